/**
 * Scenario 6 — SnapStart: cold starts restored from a CRIU snapshot of a published version,
 * against normal cold starts of the same code ($LATEST) and against a warm-pool start.
 *
 *   node dist/bench/run.js --only snapstart
 */
import { GetFunctionConfigurationCommand, PublishVersionCommand, TagResourceCommand, UpdateFunctionConfigurationCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { KeepAliveInvoker, reportOf, expectOk, type Reply } from '../client.js';
import { createFunction, forceCold, heavyInitFiles, helloZip } from '../functions.js';
import { procSnapshot, sleep, waitUntil } from '../harness.js';
import { makeZip } from '../../test/helpers/zip.js';
import { check, ms, rotate, Series, x, type Scenario } from '../scenario.js';
import { ratio } from '../stats.js';
import { startBenchStratus, type BenchStratus } from '../targets.js';

const HEAVY = 'snap-heavy';
const HELLO = 'snap-hello';
const POOL_SIZE = 2;
const CONCURRENT = 10;

/** 100 generated modules plus a 400,000-entry in-memory table built at init (≥ 1 s here). */
async function heavyTableZip(): Promise<Buffer> {
  const files = heavyInitFiles(100);
  files['index.js'] = (files['index.js'] ?? '').replace(
    'exports.handler',
    "const table = new Map(); for (let i = 0; i < 400000; i++) table.set('key' + i, { id: i, name: 'row ' + i, tags: ['a' + (i % 7), 'b' + (i % 13)] });\nexports.handler",
  ).replace('({ loaded: 100 })', '({ loaded: 100, rows: table.size })');
  return makeZip(files);
}

const HOLD_HELLO = "'use strict';\nexports.handler = async (e) => { if (e.holdMs) await new Promise((r) => setTimeout(r, e.holdMs)); return { message: 'hello world' }; };\n";

async function publishSnapStart(lambda: LambdaClient, name: string): Promise<void> {
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, SnapStart: { ApplyOn: 'PublishedVersions' } }));
  await lambda.send(new PublishVersionCommand({ FunctionName: name }));
  const ok = await waitUntil(async () => (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: '1' }))).State !== 'Pending', 120_000);
  const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: '1' }));
  if (!ok || config.SnapStart?.OptimizationStatus !== 'On') throw new Error(`${name}:1 has no snapshot: ${config.State} ${config.StateReasonCode ?? ''} ${config.StateReason ?? ''}`);
}

/** Environments of this Stratus: its direct children (bwrap for boots, criu for restored clones). */
async function environments(stratus: BenchStratus): Promise<number> {
  let n = 0;
  for (const info of (await procSnapshot()).values()) if (info.ppid === stratus.proc.pid && info.comm !== 'node') n++;
  return n;
}

/** A tag change retires every environment of a function (also its versions'): here, of both. */
let seq = 0;
async function retireAll(stratus: BenchStratus): Promise<void> {
  for (const fn of [HEAVY, HELLO]) {
    const arn = (await stratus.proc.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: fn }))).FunctionArn;
    await stratus.proc.lambda.send(new TagResourceCommand({ Resource: arn, Tags: { bench: String(seq++) } }));
  }
  if (!(await waitUntil(async () => (await environments(stratus)) === 0, 15_000))) throw new Error('retired environments did not go away');
}

function restoreOf(reply: Reply, what: string): { e2e: number; restore: number } {
  expectOk(reply, what);
  const { restoreDurationMs } = reportOf(reply);
  if (restoreDurationMs === undefined) throw new Error(`${what}: no Restore Duration in the REPORT line (not restored?)`);
  return { e2e: (reply as Reply & { ms: number }).ms, restore: restoreDurationMs };
}

export const snapStart: Scenario = {
  id: 'snapstart',
  title: '9. SnapStart',
  async run(ctx) {
    const reps = ctx.quick ? 1 : 2;
    const stratus = await startBenchStratus();
    const pooled = await startBenchStratus(['--warm-pool', String(POOL_SIZE)]);
    const s = {
      heavyBoot: new Series(), heavyBootInit: new Series(), heavyRestore: new Series(), heavyRestoreDuration: new Series(),
      helloRestore: new Series(), helloRestoreDuration: new Series(), pool: new Series(),
      burstWall: new Series(), burstRestore: new Series(),
    };
    try {
      const { lambda } = stratus.proc;
      await createFunction(lambda, HEAVY, await heavyTableZip(), { memoryMb: 512 });
      await createFunction(lambda, HELLO, await makeZip({ 'index.js': HOLD_HELLO }));
      await createFunction(pooled.proc.lambda, HELLO, await helloZip());
      await publishSnapStart(lambda, HEAVY);
      await publishSnapStart(lambda, HELLO);
      const heavyLatest = new KeepAliveInvoker(stratus.signer, stratus.target(HEAVY));
      const heavyV1 = new KeepAliveInvoker(stratus.signer, stratus.target(`${HEAVY}:1`));
      const helloV1 = new KeepAliveInvoker(stratus.signer, stratus.target(`${HELLO}:1`), CONCURRENT);
      const poolHello = new KeepAliveInvoker(pooled.signer, pooled.target(HELLO));
      const tail = { 'x-amz-log-type': 'Tail' };
      const steps: Record<string, (round: number) => Promise<void>> = {
        heavyBoot: async (r) => {
          await retireAll(stratus);
          const reply = await heavyLatest.invoke('{}', tail);
          expectOk(reply, 'heavy $LATEST cold start');
          s.heavyBoot.add(r, reply.ms);
          s.heavyBootInit.add(r, reportOf(reply).initDurationMs ?? NaN);
        },
        heavyRestore: async (r) => {
          await retireAll(stratus);
          const c = restoreOf(await heavyV1.invoke('{}', tail), 'heavy:1 restore');
          s.heavyRestore.add(r, c.e2e);
          s.heavyRestoreDuration.add(r, c.restore);
        },
        helloRestore: async (r) => {
          await retireAll(stratus);
          const c = restoreOf(await helloV1.invoke('{}', tail), 'hello:1 restore');
          s.helloRestore.add(r, c.e2e);
          s.helloRestoreDuration.add(r, c.restore);
        },
        pool: async (r) => {
          await forceCold(pooled.proc.lambda, HELLO, `p${seq++}`);
          await waitUntil(async () => (await pooled.sandboxes()).length === POOL_SIZE, 10_000);
          const reply = await poolHello.invoke('{}', tail);
          expectOk(reply, 'warm-pool start');
          s.pool.add(r, reply.ms);
        },
      };
      // Unmeasured: the first restore of each snapshot, the first boot, the pool's first start.
      for (const step of Object.values(steps)) await step(-1).catch(() => {});
      for (const series of Object.values(s)) series.rounds.length = 0;
      for (let round = 0; round < ctx.rounds; round++) {
        for (let i = 0; i < reps; i++) for (const k of rotate(Object.keys(steps), round + i)) await steps[k]?.(round);
        await retireAll(stratus);
        const t0 = Date.now();
        const burst = await Promise.all(Array.from({ length: CONCURRENT }, () => helloV1.invoke('{"holdMs":200}', tail)));
        s.burstWall.add(round, Date.now() - t0);
        for (const reply of burst) s.burstRestore.add(round, restoreOf(reply, 'concurrent restore').restore);
      }
      for (const c of [heavyLatest, heavyV1, helloV1, poolHello]) c.close();
      await sleep(10);
    } finally {
      await pooled.stop();
      await stratus.stop();
    }
    const med = (series: Series) => series.summary().median;
    const heavyGain = ratio(med(s.heavyBoot), med(s.heavyRestore));
    const helloVsPool = ratio(med(s.helloRestore), med(s.pool));
    return {
      method: [
        `Functions: \`${HEAVY}\` (100 generated modules, ~3.5 MB of JS, plus a 400,000-entry Map built at init; 512 MB) and \`${HELLO}\` (hello world, 128 MB), ` +
          'both with SnapStart={ApplyOn=PublishedVersions}; version 1 of each is published and waited for until Active with OptimizationStatus On.',
        'A restore sample: TagResource retires every environment of the function, the bench waits until none is left, then times one signed Invoke of `:1` ' +
          'with LogType=Tail (client send → last byte) and reads Restore Duration from REPORT. A normal cold start is the same code invoked as $LATEST (not snapshotted).',
        `Warm pool: a second Stratus with \`--warm-pool ${POOL_SIZE}\`; a sample retires the hello function's environment and waits until the pool is full again.`,
        `Concurrent: ${CONCURRENT} invokes of \`${HELLO}:1\` at once (each holds 200 ms, so each needs its own clone) after all its environments were retired; ` +
          'wall time until all have answered, and the Restore Duration of each.',
        `${ctx.rounds} rounds × ${reps} samples of each, in rotating order; one unmeasured sample of each first.`,
      ],
      tables: [
        {
          title: 'Heavy init (≥ 1 s)',
          rows: [
            s.heavyBoot.row('normal cold start ($LATEST)', 'end to end', 'ms'),
            s.heavyBootInit.row('normal cold start ($LATEST)', 'Init Duration', 'ms'),
            s.heavyRestore.row('SnapStart restore (:1)', 'end to end', 'ms'),
            s.heavyRestoreDuration.row('SnapStart restore (:1)', 'Restore Duration', 'ms'),
          ],
        },
        {
          title: 'Hello world',
          rows: [
            s.helloRestore.row('SnapStart restore (:1)', 'end to end', 'ms'),
            s.helloRestoreDuration.row('SnapStart restore (:1)', 'Restore Duration', 'ms'),
            s.pool.row(`warm-pool start (--warm-pool ${POOL_SIZE})`, 'end to end', 'ms'),
          ],
        },
        {
          title: `${CONCURRENT} concurrent restores`,
          rows: [s.burstWall.row(`${CONCURRENT} clones at once`, 'wall time, all answered', 'ms'), s.burstRestore.row('each clone', 'Restore Duration', 'ms')],
        },
      ],
      checks: [
        check('9. snapstart', 'heavy init: restore ≥ 5x faster than a normal cold start, end to end', `${x(heavyGain)} (${ms(med(s.heavyRestore))} vs ${ms(med(s.heavyBoot))})`, heavyGain >= 5),
        check('9. snapstart', 'hello world: restore not slower than a warm-pool start', `${x(helloVsPool)} (${ms(med(s.helloRestore))} vs ${ms(med(s.pool))})`, helloVsPool <= 1),
        check('9. snapstart', `${CONCURRENT} concurrent restores all succeed`, `wall ${ms(med(s.burstWall))}, Restore Duration median ${ms(med(s.burstRestore))}`, true),
      ],
      notes: [],
    };
  },
};
