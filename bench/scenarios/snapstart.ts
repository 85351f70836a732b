/**
 * Scenario 9 — SnapStart: cold starts restored from a CRIU snapshot of a published version,
 * against normal cold starts of the same code ($LATEST) and against a warm-pool start. The
 * targets' Stratus keeps one pre-restored clone per version (the default); a second Stratus,
 * which also holds the warm pool, runs with `--snapstart-clones 0` for restores on demand.
 *
 *   node dist/bench/run.js --only snapstart
 */
import { GetFunctionConfigurationCommand, PublishVersionCommand, TagResourceCommand, UpdateFunctionConfigurationCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { KeepAliveInvoker, reportOf, expectOk, type Reply } from '../client.js';
import { createFunction, forceCold, heavyInitFiles, helloZip } from '../functions.js';
import { readFile, readdir } from 'node:fs/promises';
import { procSnapshot, sleep, waitUntil } from '../harness.js';
import { makeZip } from '../../test/helpers/zip.js';
import { check, ms, rotate, Series, x, type Scenario } from '../scenario.js';
import { ratio } from '../stats.js';
import { startBenchStratus, type BenchStratus } from '../targets.js';

const HEAVY = 'snap-heavy';
const HELLO = 'snap-hello';
/** The same functions on the Stratus without pre-restored clones. */
const HEAVY_OD = 'snap-heavy-od';
const HELLO_OD = 'snap-hello-od';
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

interface Child {
  pid: number;
  comm: string;
  /** criu restoring or running a clone (an environment or a pre-restored clone). */
  restored: boolean;
  /** A criu child whose control directory has no Runtime API socket yet: a pre-restored clone no environment has taken. */
  clone: boolean;
  /** Such a clone, restored and frozen (ready to be taken). */
  ready: boolean;
}

/** The direct children of a Stratus (bwrap for boots and stems, criu for restored clones). */
async function children(stratus: BenchStratus): Promise<Child[]> {
  const out: Child[] = [];
  for (const [pid, info] of await procSnapshot()) {
    if (info.ppid !== stratus.proc.pid || info.comm === 'node') continue;
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const dir = args.includes('restore') ? args[args.indexOf('-W') + 1] : undefined;
    const files = dir ? await readdir(dir).catch(() => [] as string[]) : [];
    const clone = dir !== undefined && !files.includes('runtime.sock');
    out.push({ pid, comm: info.comm, restored: dir !== undefined, clone, ready: clone && files.includes('sandbox.pid') && (await frozen(pid)) });
  }
  return out;
}

/** Whether the process's freezer cgroup (v1) or cgroup (v2) is frozen. */
async function frozen(pid: number): Promise<boolean> {
  const lines = (await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '')).split('\n');
  const v1 = lines.find((l) => /^\d+:freezer:/.test(l))?.split(':')[2];
  if (v1 !== undefined) return (await readFile(`/sys/fs/cgroup/freezer${v1}/freezer.state`, 'utf8').catch(() => '')).trim() === 'FROZEN';
  const v2 = lines.find((l) => l.startsWith('0::'))?.slice(3);
  return v2 !== undefined && / frozen 1/.test(' ' + (await readFile(`/sys/fs/cgroup${v2}/cgroup.events`, 'utf8').catch(() => '')).replace(/\n/g, ' '));
}

/** Until `n` pre-restored clones are ready (restored and frozen). */
async function clonesReady(stratus: BenchStratus, n: number): Promise<void> {
  if (await waitUntil(async () => (await children(stratus)).filter((c) => c.ready).length >= n, 30_000)) return;
  const warnings = stratus.proc.output().split('\n').filter((l) => /"level":(40|50)/.test(l)).slice(-3).join('\n');
  const details: string[] = [];
  for (const c of (await children(stratus)).filter((c) => c.clone && !c.ready)) {
    const args = (await readFile(`/proc/${c.pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const dir = args[args.indexOf('-W') + 1] ?? '';
    const log = (await readFile(`${dir}/restore.log`, 'utf8').catch(() => '')).split('\n').slice(-8).join('\n');
    const kids = [...(await procSnapshot())].filter(([, p]) => p.ppid === c.pid).map(([pid, p]) => `${pid} ${p.comm}`);
    details.push(`${c.pid} wchan=${await readFile(`/proc/${c.pid}/wchan`, 'utf8').catch(() => '?')} files=${(await readdir(dir).catch(() => [])).join(',')} frozen=${await frozen(c.pid)} kids=${kids.join(';')}\n${log}`);
  }
  throw new Error(`${n} pre-restored clones did not become ready: ${JSON.stringify(await children(stratus))}\n${details.join('\n')}\n${warnings.slice(0, 3000)}`);
}

/**
 * A tag change retires every environment of a function (also its versions'), then the bench
 * waits until only `kept` children are left: pre-restored clones, or on the warm-pool Stratus
 * its stems (bwrap).
 */
let seq = 0;
async function retireAll(stratus: BenchStratus, fns: string[], kept: (c: Child) => boolean): Promise<void> {
  for (const fn of fns) {
    const arn = (await stratus.proc.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: fn }))).FunctionArn;
    await stratus.proc.lambda.send(new TagResourceCommand({ Resource: arn, Tags: { bench: String(seq++) } }));
  }
  if (!(await waitUntil(async () => (await children(stratus)).every(kept), 15_000))) throw new Error('retired environments did not go away');
}

const onlyClones = (c: Child) => c.clone;
const noRestored = (c: Child) => !c.restored;

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
    const pooled = await startBenchStratus(['--warm-pool', String(POOL_SIZE), '--snapstart-clones', '0']);
    const s = {
      heavyBoot: new Series(), heavyBootInit: new Series(), heavyRestore: new Series(), heavyRestoreDuration: new Series(),
      heavyOnDemand: new Series(), heavyOnDemandDuration: new Series(),
      helloRestore: new Series(), helloRestoreDuration: new Series(), helloOnDemand: new Series(), helloOnDemandDuration: new Series(), pool: new Series(),
      burstWall: new Series(), burstRestore: new Series(),
    };
    try {
      const { lambda } = stratus.proc;
      await createFunction(lambda, HEAVY, await heavyTableZip(), { memoryMb: 512 });
      await createFunction(lambda, HELLO, await makeZip({ 'index.js': HOLD_HELLO }));
      await createFunction(pooled.proc.lambda, HELLO, await helloZip());
      await createFunction(pooled.proc.lambda, HEAVY_OD, await heavyTableZip(), { memoryMb: 512 });
      await createFunction(pooled.proc.lambda, HELLO_OD, await makeZip({ 'index.js': HOLD_HELLO }));
      await publishSnapStart(lambda, HEAVY);
      await publishSnapStart(lambda, HELLO);
      await publishSnapStart(pooled.proc.lambda, HEAVY_OD);
      await publishSnapStart(pooled.proc.lambda, HELLO_OD);
      const heavyLatest = new KeepAliveInvoker(stratus.signer, stratus.target(HEAVY));
      const heavyV1 = new KeepAliveInvoker(stratus.signer, stratus.target(`${HEAVY}:1`));
      const helloV1 = new KeepAliveInvoker(stratus.signer, stratus.target(`${HELLO}:1`), CONCURRENT);
      const poolHello = new KeepAliveInvoker(pooled.signer, pooled.target(HELLO));
      const heavyOd = new KeepAliveInvoker(pooled.signer, pooled.target(`${HEAVY_OD}:1`));
      const helloOd = new KeepAliveInvoker(pooled.signer, pooled.target(`${HELLO_OD}:1`));
      const retire = () => retireAll(stratus, [HEAVY, HELLO], onlyClones);
      // Each restore sample finds its version's pre-restored clone ready (as the pool sample finds the pool full).
      const retireKeepingClones = async (round: number) => {
        await retire();
        if (round >= 0) await clonesReady(stratus, 2);
      };
      const tail = { 'x-amz-log-type': 'Tail' };
      const steps: Record<string, (round: number) => Promise<void>> = {
        heavyBoot: async (r) => {
          await retire();
          const reply = await heavyLatest.invoke('{}', tail);
          expectOk(reply, 'heavy $LATEST cold start');
          s.heavyBoot.add(r, reply.ms);
          s.heavyBootInit.add(r, reportOf(reply).initDurationMs ?? NaN);
        },
        heavyRestore: async (r) => {
          await retireKeepingClones(r);
          const c = restoreOf(await heavyV1.invoke('{}', tail), 'heavy:1 restore');
          s.heavyRestore.add(r, c.e2e);
          s.heavyRestoreDuration.add(r, c.restore);
        },
        heavyOnDemand: async (r) => {
          await retireAll(pooled, [HEAVY_OD, HELLO_OD], noRestored);
          const c = restoreOf(await heavyOd.invoke('{}', tail), 'heavy-od:1 restore');
          s.heavyOnDemand.add(r, c.e2e);
          s.heavyOnDemandDuration.add(r, c.restore);
        },
        helloOnDemand: async (r) => {
          await retireAll(pooled, [HEAVY_OD, HELLO_OD], noRestored);
          const c = restoreOf(await helloOd.invoke('{}', tail), 'hello-od:1 restore');
          s.helloOnDemand.add(r, c.e2e);
          s.helloOnDemandDuration.add(r, c.restore);
        },
        helloRestore: async (r) => {
          await retireKeepingClones(r);
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
        await retireKeepingClones(round);
        const t0 = Date.now();
        const burst = await Promise.all(Array.from({ length: CONCURRENT }, () => helloV1.invoke('{"holdMs":200}', tail)));
        s.burstWall.add(round, Date.now() - t0);
        for (const reply of burst) s.burstRestore.add(round, restoreOf(reply, 'concurrent restore').restore);
      }
      for (const c of [heavyLatest, heavyV1, helloV1, poolHello, heavyOd, helloOd]) c.close();
      await sleep(10);
    } finally {
      await pooled.stop();
      await stratus.stop();
    }
    const med = (series: Series) => series.summary().median;
    const heavyGain = ratio(med(s.heavyBoot), med(s.heavyRestore));
    const helloVsPool = ratio(med(s.helloRestore), med(s.pool));
    const heavyOdGain = ratio(med(s.heavyBoot), med(s.heavyOnDemand));
    const helloOdVsPool = ratio(med(s.helloOnDemand), med(s.pool));
    return {
      method: [
        `Functions: \`${HEAVY}\` (100 generated modules, ~3.5 MB of JS, plus a 400,000-entry Map built at init; 512 MB) and \`${HELLO}\` (hello world, 128 MB), ` +
          'both with SnapStart={ApplyOn=PublishedVersions}; version 1 of each is published and waited for until Active with OptimizationStatus On.',
        'A restore sample: TagResource retires every environment of the function, the bench waits until none is left and the version\'s pre-restored clone ' +
          '(Stratus keeps one per version by default, frozen, see docs/snapstart.md) is ready, then times one signed Invoke of `:1` ' +
          'with LogType=Tail (client send → last byte) and reads Restore Duration from REPORT. A normal cold start is the same code invoked as $LATEST (not snapshotted).',
        `On demand: the same functions (\`${HEAVY_OD}\`, \`${HELLO_OD}\`) on a Stratus with \`--snapstart-clones 0\`: every cold start runs \`criu restore\`.`,
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
            s.heavyOnDemand.row('SnapStart restore on demand (no clone ready)', 'end to end', 'ms'),
            s.heavyOnDemandDuration.row('SnapStart restore on demand (no clone ready)', 'Restore Duration', 'ms'),
          ],
        },
        {
          title: 'Hello world',
          rows: [
            s.helloRestore.row('SnapStart restore (:1)', 'end to end', 'ms'),
            s.helloRestoreDuration.row('SnapStart restore (:1)', 'Restore Duration', 'ms'),
            s.helloOnDemand.row('SnapStart restore on demand (no clone ready)', 'end to end', 'ms'),
            s.helloOnDemandDuration.row('SnapStart restore on demand (no clone ready)', 'Restore Duration', 'ms'),
            s.pool.row(`warm-pool start (--warm-pool ${POOL_SIZE})`, 'end to end', 'ms'),
          ],
        },
        {
          title: `${CONCURRENT} concurrent restores`,
          rows: [s.burstWall.row(`${CONCURRENT} clones at once (1 pre-restored, ${CONCURRENT - 1} on demand)`, 'wall time, all answered', 'ms'), s.burstRestore.row('each clone', 'Restore Duration', 'ms')],
        },
      ],
      checks: [
        check('9. snapstart', 'heavy init: restore ≥ 5x faster than a normal cold start, end to end', `${x(heavyGain)} (${ms(med(s.heavyRestore))} vs ${ms(med(s.heavyBoot))})`, heavyGain >= 5),
        check('9. snapstart', 'hello world: restore ≤ 1.5x a warm-pool start, end to end', `${x(helloVsPool)} (${ms(med(s.helloRestore))} vs ${ms(med(s.pool))})`, helloVsPool <= 1.5),
        check('9. snapstart', `${CONCURRENT} concurrent restores all succeed`, `wall ${ms(med(s.burstWall))}, Restore Duration median ${ms(med(s.burstRestore))}`, true),
      ],
      notes: [
        `Without a pre-restored clone (every cold start runs criu): heavy ${x(heavyOdGain)} faster than its cold start (${ms(med(s.heavyOnDemand))}), ` +
          `hello world ${x(helloOdVsPool)} a warm-pool start (${ms(med(s.helloOnDemand))}).`,
      ],
    };
  },
};
