/**
 * Scenario 11 — isolation: what the sandbox hardening costs where the other scenarios cannot
 * show it on their own. Freezing idle environments, warm and after an idle gap (a Stratus with
 * the default `--freeze-idle-after-ms` against one with `off`), and the first cold start of a
 * new code digest (its EROFS image built and mounted) against one whose image is mounted.
 * Idle memory is scenario 5's; the hardening against the code before it is a two-tree run
 * (bench/results/2026-12-06-hardening.md).
 */
import { readFile } from 'node:fs/promises';
import { DeleteFunctionCommand } from '@aws-sdk/client-lambda';
import { KeepAliveInvoker, expectOk, reportOf, type Reply } from '../client.js';
import { createFunction, forceCold, noopZip } from '../functions.js';
import { sleep, waitUntil } from '../harness.js';
import { check, ms, rotate, Series, type Scenario } from '../scenario.js';
import { median } from '../stats.js';
import { startBenchStratus, type BenchStratus } from '../targets.js';
import { makeZip } from '../../test/helpers/zip.js';

const FN = 'bench-noop';
const SAME = 'bench-same-digest';
const TARGET_ADDED_MS = 0.05;
const FREEZE_AFTER_MS = 50;
const GAP_MS = 200;

type Mode = 'on' | 'off';

/** freezer.state of the (v1) freezer cgroup `pid` is in, or '' (v2 or no freezer). */
async function freezerState(pid: number): Promise<string> {
  try {
    const line = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').find((l) => l.split(':')[1] === 'freezer');
    if (!line) return '';
    return (await readFile(`/sys/fs/cgroup/freezer${line.split(':')[2] ?? ''}/freezer.state`, 'utf8')).trim();
  } catch {
    return '';
  }
}

/** The host pid of a process inside the only sandbox of `stratus` (its pid 1). */
async function sandboxPid(stratus: BenchStratus): Promise<number> {
  const boxes = await stratus.sandboxes();
  const pid = boxes[0]?.inside[0];
  if (boxes.length !== 1 || pid === undefined) throw new Error(`expected one sandbox, found ${boxes.length}`);
  return pid;
}

const isOk = (r: Reply) => r.status === 200 && !r.headers['x-amz-function-error'];

export const isolation: Scenario = {
  id: 'isolation',
  title: '11. Isolation: the cost of the hardening',
  standalone: true,
  async run(ctx) {
    const blocksPerRound = ctx.quick ? 2 : 4;
    const perBlock = ctx.quick ? 100 : 200;
    const gapsPerRound = ctx.quick ? 3 : 6;
    const coldPerRound = ctx.quick ? 2 : 3;
    const stratus: Record<Mode, BenchStratus> = {
      on: await startBenchStratus(),
      off: await startBenchStratus(['--freeze-idle-after-ms', 'off']),
    };
    const s = {
      warm: { on: new Series(), off: new Series() },
      gap: { on: new Series(), off: new Series() },
      newE2e: new Series(), newInit: new Series(), sameE2e: new Series(), sameInit: new Series(),
      mountedE2e: new Series(), mountedInit: new Series(),
    };
    const frozenSeen = { on: 0, off: 0 };
    const errors = { on: 0, off: 0 };
    const clients = { on: new KeepAliveInvoker(stratus.on.signer, stratus.on.target(FN)), off: new KeepAliveInvoker(stratus.off.signer, stratus.off.target(FN)) };
    const same = new KeepAliveInvoker(stratus.on.signer, stratus.on.target(SAME));
    let seq = 0;
    try {
      for (const mode of ['on', 'off'] as const) await createFunction(stratus[mode].proc.lambda, FN, await noopZip());
      // Warm-up: the first invoke is the cold start; then let both JITs settle.
      for (const mode of ['on', 'off'] as const) {
        for (let i = 0; i < 300; i++) expectOk(await clients[mode].invoke(), `warm-up invoke (freezing ${mode})`);
      }
      const pids = { on: await sandboxPid(stratus.on), off: await sandboxPid(stratus.off) };
      // (c) runs on the freezing Stratus beside the bench-noop environment: each sample retires its
      // environment again, so a cold invoke starts when that one sandbox is all that is left.
      const sameZip = await noopZip();
      await createFunction(stratus.on.proc.lambda, SAME, sameZip);
      expectOk(await same.invoke(), 'first invoke of the same-digest function');
      await forceCold(stratus.on.proc.lambda, SAME, 'warm-up');
      const coldOnce = async (client: KeepAliveInvoker, what: string) => {
        if (!(await waitUntil(async () => (await stratus.on.sandboxes()).length === 1, 10_000))) {
          throw new Error('retired environments did not go away within 10 s');
        }
        const reply = await client.invoke('{}', { 'x-amz-log-type': 'Tail' });
        expectOk(reply, what);
        const report = reportOf(reply);
        if (report.initDurationMs === undefined) throw new Error(`${what}: no Init Duration in its REPORT line (was it really cold?)`);
        return { e2e: reply.ms, init: report.initDurationMs };
      };
      /** A function created for one cold start and deleted after it (so its environment goes). */
      const coldOfNewFunction = async (name: string, zip: Buffer) => {
        await createFunction(stratus.on.proc.lambda, name, zip);
        const client = new KeepAliveInvoker(stratus.on.signer, stratus.on.target(name));
        try {
          return await coldOnce(client, `cold invoke of ${name}`);
        } finally {
          client.close();
          await stratus.on.proc.lambda.send(new DeleteFunctionCommand({ FunctionName: name }));
        }
      };
      const coldSteps = {
        newDigest: async (round?: number) => {
          // Code no Stratus has seen: the worker fetches it, unpacks it, builds its EROFS image and mounts it.
          const name = `bench-new-digest-${seq++}`;
          const zip = await makeZip({ 'index.js': `'use strict';\n// ${name} ${Date.now()} ${Math.random()}\nexports.handler = async () => ({});\n` });
          const c = await coldOfNewFunction(name, zip);
          if (round !== undefined) {
            s.newE2e.add(round, c.e2e);
            s.newInit.add(round, c.init);
          }
        },
        sameDigest: async (round: number) => {
          // A new function whose code (the very same zip bytes) is mounted already for SAME.
          const c = await coldOfNewFunction(`bench-same-code-${seq++}`, sameZip);
          s.sameE2e.add(round, c.e2e);
          s.sameInit.add(round, c.init);
        },
        mounted: async (round: number) => {
          // A new environment of SAME, whose image is mounted already; retired again afterwards.
          const c = await coldOnce(same, `cold invoke of ${SAME}`);
          s.mountedE2e.add(round, c.e2e);
          s.mountedInit.add(round, c.init);
          await forceCold(stratus.on.proc.lambda, SAME, `r${round}-${seq++}`);
        },
      };
      // The very first mkfs.erofs and mount of the process is not measured.
      await coldSteps.newDigest();
      await waitUntil(async () => (await stratus.on.sandboxes()).length === 1, 10_000);

      for (let round = 0; round < ctx.rounds; round++) {
        // (a) back-to-back invokes, blocks alternating between the two Stratus processes.
        for (let block = 0; block < blocksPerRound; block++) {
          for (const mode of rotate(['on', 'off'] as const, round + block)) {
            for (let i = 0; i < perBlock; i++) {
              const reply = await clients[mode].invoke();
              if (isOk(reply)) s.warm[mode].add(round, reply.ms);
              else errors[mode]++;
            }
          }
        }
        // (b) one invoke after an idle gap, alternating: each environment has been idle ≥ 2 gaps.
        for (let i = 0; i < gapsPerRound; i++) {
          for (const mode of rotate(['on', 'off'] as const, round + i)) {
            await sleep(GAP_MS);
            if ((await freezerState(pids[mode])) === 'FROZEN') frozenSeen[mode]++;
            const reply = await clients[mode].invoke();
            if (isOk(reply)) s.gap[mode].add(round, reply.ms);
            else errors[mode]++;
          }
        }
        // (c) cold starts: a new digest vs a mounted one.
        for (let i = 0; i < coldPerRound; i++) {
          for (const k of rotate(['newDigest', 'sameDigest', 'mounted'] as const, round + i)) await coldSteps[k](round);
        }
      }
    } finally {
      clients.on.close();
      clients.off.close();
      same.close();
      await stratus.on.stop();
      await stratus.off.stop();
    }
    const perRoundDiff = (a: Series, b: Series) => {
      const d = new Series();
      for (let r = 0; r < ctx.rounds; r++) d.add(r, median(a.rounds[r] ?? []) - median(b.rounds[r] ?? []));
      return d;
    };
    const med = (series: Series) => series.summary().median;
    const warmAdded = med(s.warm.on) - med(s.warm.off);
    const thaw = med(s.gap.on) - med(s.gap.off);
    const newDigest = med(s.newE2e) - med(s.sameE2e);
    const gapSamples = gapsPerRound * ctx.rounds;
    return {
      method: [
        `Two Stratus processes, the same but for freezing: the default (\`--freeze-idle-after-ms ${FREEZE_AFTER_MS}\`: an idle environment is frozen ` +
          `${FREEZE_AFTER_MS} ms after its last invoke, by its v1 freezer cgroup, and thawed by the next invoke) and \`--freeze-idle-after-ms off\`. ` +
          `Each has \`${FN}\` (nodejs20.x, 128 MB, \`async () => ({})\`), 300 warm-up invokes; same client as scenario 1 (signed, keep-alive, send → last byte).`,
        `Warm: per round ${blocksPerRound} alternating blocks of ${perBlock} back-to-back invokes per Stratus (the freeze timer is armed and cancelled on every invoke; ` +
          'the first invoke of a block finds its environment frozen, as the other block took longer than 50 ms).',
        `After an idle gap: ${gapsPerRound} invokes per Stratus and round, each after ${GAP_MS} ms of sleep (alternating, so each environment has been idle ≥ ${2 * GAP_MS} ms); ` +
          "the bench reads the environment's freezer.state just before the invoke.",
        'Cold starts, on the freezing Stratus, each a signed Invoke with LogType=Tail once only the bench-noop environment is left: ' +
          '(1) a new function with a new code digest (CreateFunction with a zip no one has seen: the worker fetches it, unpacks it, builds its EROFS image ' +
          'with mkfs.erofs and mounts it, then starts the sandbox), (2) a new function with the very same zip bytes as an existing one (its image is mounted), ' +
          `both deleted afterwards; (3) a new environment of the existing \`${SAME}\` (UpdateFunctionConfiguration retires it after each sample). ` +
          `(1) − (2) is the image; (2) − (3) is what a function's first invoke costs besides its code. ${coldPerRound} of each per round, rotating. ` +
          "The process's first new digest is not measured.",
        `${ctx.rounds} rounds.`,
      ],
      tables: [
        {
          title: 'Warm invokes, back to back',
          rows: [
            s.warm.off.row('Stratus, freezing off', 'latency', 'ms'),
            s.warm.on.row(`Stratus, freezing after ${FREEZE_AFTER_MS} ms`, 'latency', 'ms'),
            perRoundDiff(s.warm.on, s.warm.off).row('freezing on − off', 'added latency', 'ms', 'per-round medians'),
          ],
        },
        {
          title: `One invoke after ${GAP_MS} ms idle`,
          rows: [
            s.gap.off.row('Stratus, freezing off', 'latency', 'ms', `frozen before ${frozenSeen.off} of ${gapSamples} invokes`),
            s.gap.on.row(`Stratus, freezing after ${FREEZE_AFTER_MS} ms`, 'latency', 'ms', `frozen before ${frozenSeen.on} of ${gapSamples} invokes`),
            perRoundDiff(s.gap.on, s.gap.off).row('thaw: freezing on − off', 'added latency', 'ms', 'per-round medians'),
          ],
        },
        {
          title: 'Cold start: a new code digest vs code already mounted',
          rows: [
            s.mountedE2e.row('existing function, new environment (image mounted)', 'end to end', 'ms'),
            s.mountedInit.row('existing function, new environment (image mounted)', 'Init Duration', 'ms'),
            s.sameE2e.row('new function, same code (image mounted)', 'end to end', 'ms'),
            s.sameInit.row('new function, same code (image mounted)', 'Init Duration', 'ms'),
            s.newE2e.row('new function, new digest (fetch, unpack, mkfs.erofs, mount)', 'end to end', 'ms'),
            s.newInit.row('new function, new digest (fetch, unpack, mkfs.erofs, mount)', 'Init Duration', 'ms'),
            perRoundDiff(s.newE2e, s.sameE2e).row('new digest − same code (the image)', 'end to end', 'ms', 'per-round medians'),
            perRoundDiff(s.sameE2e, s.mountedE2e).row('new function − existing function (same image)', 'end to end', 'ms', 'per-round medians'),
          ],
        },
      ],
      checks: [
        check('11. isolation', `freezing idle environments adds ≤ ${TARGET_ADDED_MS} ms at the warm median`,
          `${warmAdded >= 0 ? '+' : ''}${ms(warmAdded)} (${ms(med(s.warm.on))} vs ${ms(med(s.warm.off))})`, warmAdded <= TARGET_ADDED_MS),
        check('11. isolation', `thaw: an invoke after ${GAP_MS} ms idle, freezing on − off (no target)`,
          `${thaw >= 0 ? '+' : ''}${ms(thaw)} (${ms(med(s.gap.on))} vs ${ms(med(s.gap.off))})`, null),
        check('11. isolation', 'cold start of a new function: new code digest − code already mounted (no target)',
          `${newDigest >= 0 ? '+' : ''}${ms(newDigest)} (${ms(med(s.newE2e))} vs ${ms(med(s.sameE2e))})`, null),
      ],
      notes: [
        `Errors: freezing on ${errors.on}, off ${errors.off} (non-200 or X-Amz-Function-Error).`,
        `Environments found frozen (freezer.state FROZEN) just before an invoke after ${GAP_MS} ms idle: freezing on ${frozenSeen.on} of ${gapSamples}, off ${frozenSeen.off} of ${gapSamples}.`,
        'The two Stratus processes differ in more than the flag (each has its own JIT and heap history), so a difference of hundredths of a millisecond ' +
          'between them is only as good as the spread of the per-round medians.',
      ],
    };
  },
};
