/**
 * Scenario — zone loss (issue 19): a cluster whose three workers are `local-hosts` hosts (each in
 * its own network namespace on a bridge), two in zone-a and one in zone-b. Under a load of
 * synchronous invokes (4 clients) and Event invokes (one every 100 ms), every worker of zone-a is
 * SIGKILLed by PID. Measured: Event invokes acknowledged (202) and lost (never delivered; target
 * 0), synchronous invokes that failed, the time from the kill to the first synchronous invoke begun
 * after it that succeeded, and to zone-a's workers leaving the assignment leader's table (from
 * then on every invoke runs on zone-b).
 */
import { CreateFunctionCommand, InvokeCommand, PutFunctionEventInvokeConfigCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { canMakeHosts } from '../../src/placement/index.js';
import { InternalClient } from '../../src/shared/internal-client.js';
import { CONTROL_PLANE_NAME } from '../../src/shared/tls.js';
import { RECORDER, recordsIn } from '../../test/helpers/async-records.js';
import { startHostCluster, type HostCluster } from '../../test/helpers/host-cluster.js';
import { makeZip } from '../../test/helpers/zip.js';
import { ROLE } from '../functions.js';
import { log, onCleanup, sleep, waitUntil } from '../harness.js';
import { check, ms, Series, type Scenario } from '../scenario.js';

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:';
const CODE = "exports.handler = async (e) => { await new Promise((r) => setTimeout(r, 500)); return { n: e.n }; };";
const SYNC_CLIENTS = 4;
const EVENT_EVERY_MS = 100;

interface Round {
  acked: number;
  refused: number;
  lost: number;
  syncOk: number;
  syncFailed: number;
  syncFailedAfterDrop: number;
  toFirstOk: number;
  toDropped: number;
}

/** The workers the assignment leader holds environments for (undefined: no leader answered). */
async function tableWorkers(cluster: HostCluster, control: InternalClient): Promise<string[] | undefined> {
  const leader = await cluster.leader();
  if (!leader) return undefined;
  const body = (await control.json(`${leader.url}/_stratus/assignment/v1/environments`, CONTROL_PLANE_NAME, 'POST', {}, 2000).catch(() => undefined)) as { workers?: { workerId: string }[] } | undefined;
  return body?.workers?.map((w) => w.workerId);
}

async function round(quick: boolean): Promise<Round> {
  const cluster = await startHostCluster({ functionLogs: 'stdout', workerMemoryMb: 2048 });
  const stopCluster = onCleanup(() => cluster.stop());
  const control = new InternalClient(cluster.controlPlane);
  try {
    for (const zone of ['zone-a', 'zone-b', 'zone-a']) await cluster.addHost(zone);
    const [a0, b1, a2] = cluster.hosts;
    if (!a0 || !b1 || !a2) throw new Error('three worker hosts');
    const admin = cluster.lambda(0);
    for (const [name, code] of [['zl-fn', CODE], ['zl-recorder', RECORDER]] as const) {
      await admin.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', MemorySize: 128, Code: { ZipFile: await makeZip({ 'index.js': code }) } }));
    }
    await admin.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'zl-fn', MaximumRetryAttempts: 2, DestinationConfig: { OnSuccess: { Destination: `${ARN}zl-recorder` } } }));
    // Environments in both zones before the load (placement spreads them by zone).
    await Promise.all([0, 1, 2, 3].map((n) => admin.send(new InvokeCommand({ FunctionName: 'zl-fn', Payload: Buffer.from(JSON.stringify({ n })) }))));

    const clients: LambdaClient[] = [cluster.lambda(0, { maxAttempts: 1 }), cluster.lambda(1, { maxAttempts: 1 })];
    const sync: { start: number; end: number; ok: boolean }[] = [];
    const ids: string[] = [];
    let refused = 0;
    let running = true;
    const syncLoad = Array.from({ length: SYNC_CLIENTS }, async (_, i) => {
      for (let n = 0; running; n++) {
        const start = performance.now();
        const ok = await (clients[i % 2] as LambdaClient).send(new InvokeCommand({ FunctionName: 'zl-fn', Payload: Buffer.from(JSON.stringify({ n })) }))
          .then((o) => o.FunctionError === undefined, () => false);
        sync.push({ start, end: performance.now(), ok });
        if (!ok) await sleep(50);
      }
    });
    const eventLoad = (async () => {
      for (let n = 0; running; n++) {
        const out = await (clients[0] as LambdaClient).send(new InvokeCommand({ FunctionName: 'zl-fn', InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ n, event: true })) }))
          .catch(() => undefined);
        if (out?.StatusCode === 202 && out.$metadata.requestId) ids.push(out.$metadata.requestId);
        else refused++;
        await sleep(EVENT_EVERY_MS);
      }
    })();
    let killedAt = 0;
    let droppedAt = 0;
    try {
      await sleep(quick ? 2000 : 4000);
      killedAt = performance.now();
      await Promise.all([a0.kill(), a2.kill()]);
      if (!(await waitUntil(async () => {
        const w = await tableWorkers(cluster, control);
        return w !== undefined && w.length > 0 && w.every((id) => id === b1.id);
      }, 60_000))) throw new Error("zone-a's workers never left the leader's table");
      droppedAt = performance.now();
      await sleep(quick ? 2000 : 5000);
    } finally {
      running = false;
      await Promise.all([...syncLoad, eventLoad]);
    }
    // Delivered: the event's success record reached the recorder (on whichever worker ran it; killed ones' logs stay on disk).
    const delivered = () => new Set(recordsIn(cluster.hosts.map((h) => h.output()).join('\n')).map((r) => (r.requestContext as { requestId: string }).requestId));
    await waitUntil(() => ids.every((id) => delivered().has(id)), 120_000);
    const seen = delivered();
    const after = sync.filter((s) => s.start >= killedAt);
    const firstOk = after.filter((s) => s.ok).sort((x, y) => x.end - y.end)[0];
    return {
      acked: ids.length, refused, lost: ids.filter((id) => !seen.has(id)).length,
      syncOk: sync.filter((s) => s.ok).length, syncFailed: sync.filter((s) => !s.ok).length,
      syncFailedAfterDrop: sync.filter((s) => s.start >= droppedAt && !s.ok).length,
      toFirstOk: firstOk ? firstOk.end - killedAt : Number.NaN, toDropped: droppedAt - killedAt,
    };
  } finally {
    control.close();
    await stopCluster();
  }
}

export const zoneLoss: Scenario = {
  id: 'zone-loss',
  title: '18. Zone loss: SIGKILL of every worker of one zone under load',
  standalone: true,
  async run(ctx) {
    const can = await canMakeHosts();
    if (!can.ok) return { method: [], tables: [], checks: [], notes: [`skipped: ${can.reason}`] };
    const rounds = ctx.quick ? 1 : Math.min(3, ctx.rounds);
    const toFirstOk = new Series();
    const toDropped = new Series();
    const t = { acked: 0, refused: 0, lost: 0, syncOk: 0, syncFailed: 0, syncFailedAfterDrop: 0 };
    for (let r = 0; r < rounds; r++) {
      const res = await round(ctx.quick);
      toFirstOk.add(r, res.toFirstOk);
      toDropped.add(r, res.toDropped);
      for (const k of Object.keys(t) as (keyof typeof t)[]) t[k] += res[k];
      log(`zone-loss: round ${r}: ${res.acked} events acknowledged, ${res.lost} lost; ${res.syncFailed} sync failed of ${res.syncOk + res.syncFailed}; `
        + `first sync success ${res.toFirstOk.toFixed(0)} ms after the kill, zone-a out of the table after ${res.toDropped.toFixed(0)} ms`);
    }
    const first = toFirstOk.summary();
    return {
      method: [
        'A 3-member etcd, one placement replica (worker lease 1.5 s, heartbeats every 300 ms), 3 assignment replicas, 2 frontends; three 2048 MB `stratus worker`s, each a `local-hosts` host (its own network namespace on a bridge, cgroup and data directory): two in zone-a, one in zone-b.',
        `A 128 MB function sleeping 500 ms, its Event invokes' successes sent to a recorder function (OnSuccess destination, up to 2 retries); four warm-up invokes spread it over both zones. Load: ${SYNC_CLIENTS} clients of synchronous invokes (AWS SDK v3, no retries) and one Event invoke every ${EVENT_EVERY_MS} ms.`,
        `After ${ctx.quick ? 2 : 4} s of load, every zone-a worker is SIGKILLed by PID; the load goes on until zone-a's workers have left the assignment leader's table, and ${ctx.quick ? 2 : 5} s more. An acknowledged (202) event is lost if its success record never reaches the recorder (waited for up to 2 minutes).`,
        `${rounds} round(s), each a fresh cluster.`,
      ],
      tables: [{
        title: 'During a zone loss',
        rows: [
          toFirstOk.row('SIGKILL of zone-a → first synchronous invoke begun after it succeeds', 'time', 'ms'),
          toDropped.row("SIGKILL of zone-a → zone-a's workers out of the leader's table (seen by polling)", 'time', 'ms'),
        ],
      }],
      checks: [
        check('18. zone loss', 'acknowledged Event invokes lost: 0', `${t.lost} of ${t.acked} acknowledged (${t.refused} refused)`, t.lost === 0),
        check('18. zone loss', 'synchronous invokes recover on the other zone (median time from the kill to the first success)', ms(first.median), Number.isFinite(first.median)),
        check('18. zone loss', "synchronous invokes that failed (all of them while zone-a's leases ran out)",
          `${t.syncFailed} of ${t.syncOk + t.syncFailed} (${t.syncFailedAfterDrop} after zone-a left the table)`, t.syncFailedAfterDrop === 0),
      ],
      notes: [],
    };
  },
};
