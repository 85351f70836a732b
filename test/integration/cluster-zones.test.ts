// Zones in a cluster whose workers are hosts of their own (`local-hosts`: each `stratus worker`
// in its own network namespace, on a bridge): two in zone-a, one in zone-b. Concurrent invokes
// of one function land in both zones; then, under a load of synchronous and Event invokes, every
// worker of zone-a is SIGKILLed by PID: every acknowledged (202) event still runs, the function
// is still there, synchronous invokes run again on zone-b, and once zone-a's environments have
// left the assignment leader's table, every synchronous invoke succeeds.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, GetFunctionCommand, InvokeCommand, PutFunctionEventInvokeConfigCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { canMakeHosts } from '../../src/placement/index.js';
import { InternalClient } from '../../src/shared/internal-client.js';
import { CONTROL_PLANE_NAME } from '../../src/shared/tls.js';
import { RECORDER, recordsIn, until } from '../helpers/async-records.js';
import { startHostCluster, type HostCluster } from '../helpers/host-cluster.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:';
const SLOW = `exports.handler = async (event) => { console.log('RUN ' + JSON.stringify(event)); await new Promise((r) => setTimeout(r, 1200)); return { n: event.n }; };`;
const can = await canMakeHosts();

interface SyncOutcome { startedMs: number; ok: boolean; error?: string }

describe('zones in a cluster of local-hosts workers', { skip: can.ok ? undefined : can.reason }, () => {
  let cluster: HostCluster;
  let control: InternalClient;
  before(async () => {
    cluster = await startHostCluster({ functionLogs: 'stdout', workerMemoryMb: 2048 });
    for (const zone of ['zone-a', 'zone-b', 'zone-a']) await cluster.addHost(zone);
    control = new InternalClient(cluster.controlPlane);
  });
  after(async () => {
    control?.close();
    await cluster?.stop();
  });

  /** The workers the assignment leader's table holds environments for. */
  const table = async () => {
    const leader = await cluster.leader();
    if (!leader) return undefined;
    const { workers } = (await control.json(`${leader.url}/_stratus/assignment/v1/environments`, CONTROL_PLANE_NAME, 'POST', {}, 2000)) as { workers: { workerId: string; environments: unknown[] }[] };
    return workers;
  };

  test('a function spreads across zones and survives the loss of a whole zone under load', async () => {
    const lambda = cluster.lambda(0, { maxAttempts: 1 });
    for (const [name, code] of [['slow', SLOW], ['recorder', RECORDER]] as const) {
      await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: await makeZip({ 'index.js': code }) } }));
    }
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'slow', DestinationConfig: { OnSuccess: { Destination: `${ARN}recorder` } } }));
    const [a0, b1, a2] = cluster.hosts;
    assert.ok(a0 && b1 && a2);
    assert.deepEqual([a0.zone, b1.zone, a2.zone], ['zone-a', 'zone-b', 'zone-a']);
    assert.equal(new Set(cluster.hosts.map((h) => h.address)).size, 3, 'each worker a host with its own address');

    // Concurrent invokes: four environments of one function, in both zones.
    const outs = await Promise.all([0, 1, 2, 3].map((n) => lambda.send(new InvokeCommand({ FunctionName: 'slow', Payload: Buffer.from(JSON.stringify({ n })) }))));
    assert.deepEqual(outs.map((o) => o.FunctionError), [undefined, undefined, undefined, undefined]);
    const [e0 = 0, e1 = 0, e2 = 0] = await cluster.workerEnvironments();
    // Spread by zone, not by worker: half of them on zone-b's one worker (by load alone, it would get a third).
    assert.deepEqual([e0 + e2, e1], [2, 2], `environments by worker: zone-a ${e0}+${e2}, zone-b ${e1}`);

    // The load: two clients of synchronous invokes, and an Event invoke every 250 ms (until told to stop).
    const sync: SyncOutcome[] = [];
    const ids: string[] = [];
    let refused = 0;
    let stop = false;
    const syncClient = async (client: LambdaClient) => {
      for (let n = 100; !stop; n++) {
        const startedMs = Date.now();
        const out = await client.send(new InvokeCommand({ FunctionName: 'slow', Payload: Buffer.from(JSON.stringify({ n, sync: true })) }))
          .then((o) => (o.FunctionError ? `FunctionError ${o.FunctionError}` : undefined), (err: Error) => `${err.name}: ${err.message}`);
        sync.push({ startedMs, ok: out === undefined, ...(out ? { error: out } : {}) });
        if (out) await new Promise((r) => setTimeout(r, 100));
      }
    };
    const events = async () => {
      for (let n = 0; !stop; n++) {
        const out = await lambda.send(new InvokeCommand({ FunctionName: 'slow', InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ n, event: true })) }))
          .catch(() => undefined);
        if (out?.StatusCode === 202) ids.push(out.$metadata.requestId ?? '');
        else refused++;
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const load = Promise.all([syncClient(lambda), syncClient(cluster.lambda(1, { maxAttempts: 1 })), events()]);
    let killedMs = 0;
    let droppedMs = 0;
    try {
      // Once zone-a runs an event, every zone-a worker is SIGKILLed (by PID: a crashed zone).
      const zoneA = () => a0.output() + a2.output();
      await until(() => /INFO\tRUN \{"n":\d+,"event":true\}/.test(zoneA()), 'zone-a to run an event', 30_000).catch((err: unknown) => {
        throw new Error(`${String(err)}: ${ids.length} events acknowledged, ${refused} refused\n--- zone-a:\n${zoneA().slice(-3000)}\n--- zone-b:\n${b1.output().slice(-3000)}`);
      });
      killedMs = Date.now();
      await Promise.all([a0.kill(), a2.kill()]);

      // Synchronous invokes run again (on zone-b, the only zone left).
      await until(() => sync.some((s) => s.ok && s.startedMs > killedMs), 'a synchronous invoke to succeed after the zone loss', 60_000);
      // Zone-a's workers leave the leader's table (their leases ran out); zone-b runs the function.
      const workers = await until(async () => {
        const w = await table().catch(() => undefined);
        return w !== undefined && w.length > 0 && w.every((x) => x.workerId === b1.id) && w;
      }, "the leader to drop zone-a's workers", 30_000);
      droppedMs = Date.now();
      assert.ok((workers[0]?.environments.length ?? 0) > 0, "zone-b runs the function's environments");
      // The load goes on a while on zone-b alone.
      await until(() => sync.filter((s) => s.startedMs > droppedMs).length >= 4 && ids.length >= 12, 'more load on zone-b', 60_000);
    } finally {
      stop = true;
      await load;
    }

    // Every synchronous invoke begun once zone-a had left the table succeeded.
    assert.deepEqual(sync.filter((s) => s.startedMs > droppedMs && !s.ok).map((s) => s.error), []);
    // Every acknowledged event runs: its success record reaches the recorder (from whichever zone ran it).
    const everything = () => cluster.hosts.map((w) => w.output()).join('\n');
    const delivered = await until(() => {
      const seen = new Set(recordsIn(everything()).map((r) => (r.requestContext as { requestId: string }).requestId));
      return ids.every((id) => seen.has(id)) && seen;
    }, 'every acknowledged event to be delivered', 90_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- zone-b worker:\n${b1.output().slice(-5000)}\n--- frontend:\n${cluster.frontends[0]?.output().slice(-5000) ?? ''}`);
    });
    assert.deepEqual(ids.filter((id) => !delivered.has(id)), [], 'acknowledged events lost');
    const lostSync = sync.filter((s) => s.startedMs > killedMs && !s.ok).length;
    process.stdout.write(`# zone loss: ${ids.length} events acknowledged, 0 lost, ${refused} refused; `
      + `${lostSync} synchronous invokes failed of ${sync.filter((s) => s.startedMs > killedMs).length} begun after the kill\n`);

    // No function is lost.
    for (const name of ['slow', 'recorder']) assert.equal((await cluster.lambda(1).send(new GetFunctionCommand({ FunctionName: name }))).Configuration?.FunctionName, name);
  });
});
