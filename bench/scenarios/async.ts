/**
 * Scenario 7 — asynchronous invocation: how fast Invoke with InvocationType=Event is accepted
 * (HTTP 202 after the event is durably queued, fsync'd) and how fast queued events complete end
 * to end, on the single machine. Baseline in the same run: the same function invoked
 * synchronously at the same concurrency.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { KeepAliveInvoker, send, type Reply } from '../client.js';
import { createFunction, noopZip } from '../functions.js';
import { sleep } from '../harness.js';
import { Series, type Scenario } from '../scenario.js';
import { startBenchStratus, type BenchStratus } from '../targets.js';

const FN = 'bench-async-noop';
const CLIENTS = 16;

export const asyncInvoke: Scenario = {
  id: 'async',
  title: '7. Asynchronous invoke (Event): accepted and completed per second',
  async run(ctx) {
    const events = ctx.quick ? 500 : 2000;
    const stratus = await startBenchStratus();
    const queued = new Database(join(stratus.proc.dataDir, 'journal.db'), { readonly: true, fileMustExist: true });
    const accepted = new Series();
    const acceptMs = new Series();
    const completed = new Series();
    const sync = new Series();
    const errors = { event: 0, sync: 0 };
    try {
      await createFunction(stratus.proc.lambda, FN, await noopZip());
      const probe = new KeepAliveInvoker(stratus.signer, stratus.target(FN));
      for (let i = 0; i < 200; i++) await probe.invoke();
      probe.close();
      const count = () => (queued.prepare('SELECT COUNT(*) AS n FROM event_queue').get() as { n: number }).n;
      for (let round = 0; round < ctx.rounds; round++) {
        const t0 = performance.now();
        const run = await closedLoop(stratus, events, { 'x-amz-invocation-type': 'Event' }, (r) => r.status === 202);
        const acceptedAt = performance.now();
        while (count() > 0) await sleep(5);
        const doneAt = performance.now();
        errors.event += run.errors;
        accepted.add(round, (events / (acceptedAt - t0)) * 1000);
        for (const ms of run.latencies) acceptMs.add(round, ms);
        completed.add(round, (events / (doneAt - t0)) * 1000);
        const s0 = performance.now();
        const syncRun = await closedLoop(stratus, events, {}, (r) => r.status === 200 && !r.headers['x-amz-function-error']);
        sync.add(round, (events / (performance.now() - s0)) * 1000);
        errors.sync += syncRun.errors;
      }
    } finally {
      queued.close();
      await stratus.stop();
    }
    return {
      method: [
        `Client: ${CLIENTS} closed-loop keep-alive connections in the bench process, the same signed request reused; ${events} invokes per round, ${ctx.rounds} rounds.`,
        `Function \`${FN}\`: nodejs20.x, 128 MB, \`async () => ({})\`, warm (200 synchronous invokes first).`,
        'Accepted/s: Event invokes answered 202 (each after its event was committed to SQLite with synchronous=FULL) over the time to send them all.',
        'Completed/s: the same events over the time from the first send until the event queue (read from journal.db) is empty: every event claimed, run and removed.',
        'Baseline: the same number of synchronous (RequestResponse) invokes at the same concurrency, right after.',
      ],
      tables: [
        {
          title: 'Throughput',
          rows: [
            accepted.row('Event invoke', 'accepted (202)', 'req/s'),
            completed.row('Event invoke', 'completed end to end', 'req/s'),
            sync.row('RequestResponse invoke (baseline)', 'completed', 'req/s'),
          ],
        },
        { title: 'Latency of one Event invoke (request to 202)', rows: [acceptMs.row('Event invoke', 'latency', 'ms')] },
      ],
      checks: [],
      notes: [`Errors: Event ${errors.event} (not 202), RequestResponse ${errors.sync}.`],
    };
  },
};

/** Sends `total` invokes over CLIENTS keep-alive connections, each sending its next when the last is answered. */
async function closedLoop(stratus: BenchStratus, total: number, extra: Record<string, string>, ok: (r: Reply) => boolean): Promise<{ latencies: number[]; errors: number }> {
  const client = new KeepAliveInvoker(stratus.signer, stratus.target(FN), CLIENTS);
  const target = stratus.target(FN);
  const headers = await stratus.signer.headers(target, '{}', extra);
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  const loop = async () => {
    while (sent < total) {
      sent++;
      const t0 = performance.now();
      const reply = await send(client.agent, target, headers, '{}');
      latencies.push(performance.now() - t0);
      if (!ok(reply)) errors++;
    }
  };
  try {
    await Promise.all(Array.from({ length: CLIENTS }, loop));
  } finally {
    client.close();
  }
  return { latencies, errors };
}
