// Zones in a cluster of real processes: workers in zone-a and zone-b; concurrent invokes of one
// function land in both zones; SIGKILL every worker of zone-a while events run: every accepted
// (202) event still runs, the function is still there, synchronous invokes run again on zone-b,
// and the environments of zone-a's workers are gone from the assignment leader's table.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, GetFunctionCommand, InvokeCommand, PutFunctionEventInvokeConfigCommand } from '@aws-sdk/client-lambda';
import { InternalClient } from '../../src/shared/internal-client.js';
import { CONTROL_PLANE_NAME } from '../../src/shared/tls.js';
import { RECORDER, recordsIn, until } from '../helpers/async-records.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import type { RoleProcess } from '../helpers/role-process.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:';
const SLOW = `exports.handler = async (event) => { await new Promise((r) => setTimeout(r, 1200)); return { n: event.n }; };`;
const EVENTS = 6;

describe('zones in a cluster', () => {
  let cluster: Cluster;
  let control: InternalClient;
  const killed: RoleProcess[] = [];
  before(async () => {
    // worker-0 and worker-2 in zone-a, worker-1 in zone-b.
    cluster = await startCluster({ workers: 3, zones: ['zone-a', 'zone-b'], functionLogs: 'stdout', workerMemoryMb: 2048 });
    control = new InternalClient(cluster.controlPlane);
  });
  after(async () => {
    control?.close();
    // A killed worker's mounts and cgroups are reconciled by the next worker on its data dir.
    for (const w of killed) await w.respawn().catch(() => {});
    await cluster?.stop();
  });

  test('a function spreads across zones and survives the loss of a whole zone', async () => {
    const lambda = cluster.lambda(0, { maxAttempts: 1 });
    for (const [name, code] of [['slow', SLOW], ['recorder', RECORDER]] as const) {
      await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: await makeZip({ 'index.js': code }) } }));
    }
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'slow', DestinationConfig: { OnSuccess: { Destination: `${ARN}recorder` } } }));
    const [a0, b1, a2] = cluster.workers;
    assert.ok(a0 && b1 && a2);

    // Concurrent invokes: four environments of one function, in both zones.
    const outs = await Promise.all([0, 1, 2, 3].map((n) => lambda.send(new InvokeCommand({ FunctionName: 'slow', Payload: Buffer.from(JSON.stringify({ n })) }))));
    assert.deepEqual(outs.map((o) => o.FunctionError), [undefined, undefined, undefined, undefined]);
    const [e0 = 0, e1 = 0, e2 = 0] = await cluster.workerEnvironments();
    // Spread by zone, not by worker: half of them on zone-b's one worker (by load alone, it would get a third).
    assert.deepEqual([e0 + e2, e1], [2, 2], `environments by worker: zone-a ${e0}+${e2}, zone-b ${e1}`);

    // Events, acknowledged (202); once zone-a runs some of them, every zone-a worker is SIGKILLed.
    const zoneA = () => a0.output() + a2.output();
    const startsBefore = (zoneA().match(/\[slow\] START/g) ?? []).length;
    const ids: string[] = [];
    for (let n = 0; n < EVENTS; n++) {
      const out = await lambda.send(new InvokeCommand({ FunctionName: 'slow', InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ n })) }));
      assert.equal(out.StatusCode, 202);
      ids.push(out.$metadata.requestId ?? '');
    }
    await until(() => (zoneA().match(/\[slow\] START/g) ?? []).length > startsBefore, 'zone-a to run an event', 30_000);
    killed.push(a0, a2);
    await Promise.all([a0.kill(), a2.kill()]);

    // Every acknowledged event runs (on zone-b): its success record reaches the recorder.
    const everything = () => cluster.workers.map((w) => w.output()).join('\n');
    const delivered = await until(() => {
      const seen = new Set(recordsIn(everything()).map((r) => (r.requestContext as { requestId: string }).requestId));
      return ids.every((id) => seen.has(id)) && seen;
    }, 'every event to be delivered', 90_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- zone-b worker:\n${b1.output()}\n--- frontend:\n${cluster.frontends[0]?.output() ?? ''}`);
    });
    assert.deepEqual(ids.filter((id) => !delivered.has(id)), []);

    // Synchronous invokes run again, on zone-b (polled: the first ones may still meet zone-a's lease).
    await until(async () => {
      const out = await lambda.send(new InvokeCommand({ FunctionName: 'slow', Payload: Buffer.from('{"n":9}') })).catch(() => undefined);
      return out?.FunctionError === undefined && out?.StatusCode === 200;
    }, 'a synchronous invoke to succeed after the zone loss', 60_000);
    const again = await Promise.all([0, 1].map(() => cluster.lambda(1, { maxAttempts: 1 }).send(new InvokeCommand({ FunctionName: 'slow', Payload: Buffer.from('{"n":10}') }))));
    assert.deepEqual(again.map((o) => [o.StatusCode, o.FunctionError]), [[200, undefined], [200, undefined]]);

    // No function is lost, and the leader's table holds no environment of zone-a's workers.
    for (const name of ['slow', 'recorder']) assert.equal((await cluster.lambda(1).send(new GetFunctionCommand({ FunctionName: name }))).Configuration?.FunctionName, name);
    const table = await until(async () => {
      const leader = await cluster.leader();
      if (!leader) return undefined;
      const { workers } = (await control.json(`${leader.url}/_stratus/assignment/v1/environments`, CONTROL_PLANE_NAME, 'POST', {}, 2000)) as { workers: { workerId: string; environments: unknown[] }[] };
      return workers.every((w) => w.workerId === b1.id) && workers;
    }, 'the leader to drop zone-a\'s workers', 30_000);
    assert.deepEqual(table.map((w) => w.workerId), [b1.id]);
    assert.ok((table[0]?.environments.length ?? 0) > 0, 'zone-b runs the function\'s environments');
  });
});
