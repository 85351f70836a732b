/**
 * Scenario 4 — burst: 100 concurrent invokes of a function that has no environment. Time until
 * all complete, errors, environments created per second; against 100 concurrent plain process
 * starts (`node -e 0`, and `node -e 0` inside Stratus's bwrap sandbox).
 */
import { Agent } from 'node:http';
import { send } from '../client.js';
import { createFunction, forceCold, noopZip } from '../functions.js';
import { CLEAN_ENV, log, timeCommand, waitUntil } from '../harness.js';
import { sandboxFloor } from '../sandbox-floor.js';
import { check, ms, rotate, Series, type Scenario } from '../scenario.js';
import { startBenchStratus, type BenchStratus } from '../targets.js';

const FN = 'bench-burst';
/** Issue 17: all 100 invokes of the burst have replied within 2.5 s. */
const TARGET_TOTAL_MS = 2500;

interface Burst {
  totalMs: number;
  latencies: number[];
  errors: number;
  envs: number;
  firstError?: string;
}

async function fireBurst(stratus: BenchStratus, n: number): Promise<Burst> {
  const target = stratus.target(FN);
  const headers = await stratus.signer.headers(target, '{}');
  const agent = new Agent({ keepAlive: true, maxSockets: n });
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: n }, async () => {
      try {
        const r = await send(agent, target, headers, '{}');
        if (r.status !== 200 || r.headers['x-amz-function-error']) throw new Error(`HTTP ${r.status} ${r.body.toString().slice(0, 200)}`);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      } catch (err) {
        errors++;
        firstError ??= String(err instanceof Error ? err.message : err);
      }
    }),
  );
  const totalMs = Number(process.hrtime.bigint() - t0) / 1e6;
  agent.destroy();
  return { totalMs, latencies, errors, envs: (await stratus.sandboxes()).length, firstError };
}

/** Starts `n` copies of `start` at once; ms until the last one has finished. */
async function parallel(n: number, start: () => Promise<number>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: n }, start));
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export const burst: Scenario = {
  id: 'burst',
  title: '4. Burst: 100 concurrent invokes of a cold function',
  async run(ctx) {
    const n = 100;
    const node = process.execPath;
    const sandbox = await sandboxFloor(ctx.scratch);
    const stratus = await startBenchStratus();
    const s = {
      nodeTotal: new Series(), bwrapTotal: new Series(), stratusTotal: new Series(), first: new Series(),
      latency: new Series(), envsPerS: new Series(), retire: new Series(), nodePerS: new Series(), bwrapPerS: new Series(),
    };
    let errors = 0;
    let firstErrors = 0;
    let envs = 0;
    const errorTexts = new Set<string>();
    try {
      await createFunction(stratus.proc.lambda, FN, await noopZip());
      // The very first burst after CreateFunction also unpacks the code: reported on its own.
      const first = await fireBurst(stratus, n);
      s.first.add(0, first.totalMs);
      firstErrors = first.errors;
      if (first.firstError) errorTexts.add(`first burst: ${first.firstError}`);
      log(`  first burst: ${first.totalMs.toFixed(0)} ms, ${first.envs} environments, ${first.errors} errors`);
      let marker = 0;
      const steps: Record<string, (round: number) => Promise<void>> = {
        node: async (r) => {
          const t = await parallel(n, () => timeCommand(node, ['-e', '0'], { env: CLEAN_ENV }));
          s.nodeTotal.add(r, t);
          s.nodePerS.add(r, n / (t / 1000));
        },
        bwrap: async (r) => {
          const t = await parallel(n, () => sandbox.run([node, '-e', '0']));
          s.bwrapTotal.add(r, t);
          s.bwrapPerS.add(r, n / (t / 1000));
        },
        stratus: async (r) => {
          const t0 = process.hrtime.bigint();
          await forceCold(stratus.proc.lambda, FN, `burst-${marker++}`);
          if (!(await waitUntil(async () => (await stratus.sandboxes()).length === 0, 30_000))) {
            throw new Error('the retired environments did not go away within 30 s');
          }
          s.retire.add(r, Number(process.hrtime.bigint() - t0) / 1e6);
          const b = await fireBurst(stratus, n);
          s.stratusTotal.add(r, b.totalMs);
          for (const l of b.latencies) s.latency.add(r, l);
          s.envsPerS.add(r, b.envs / (b.totalMs / 1000));
          errors += b.errors;
          envs += b.envs;
          if (b.firstError) errorTexts.add(b.firstError);
          log(`  round ${r + 1}: ${b.totalMs.toFixed(0)} ms, ${b.envs} environments, ${b.errors} errors`);
        },
      };
      for (let round = 0; round < ctx.rounds; round++) {
        for (const k of rotate(Object.keys(steps), round)) {
          const t0 = Date.now();
          await steps[k]?.(round);
          log(`  round ${round + 1} ${k}: ${Date.now() - t0} ms`);
        }
      }
    } finally {
      await stratus.stop();
    }
    const perCore = s.envsPerS.summary().median / ctx.cores;
    const bursts = s.stratusTotal.summary().n;
    const total = s.stratusTotal.summary().median;
    const floorTotal = s.nodeTotal.summary().median;
    const bwrapTotal = s.bwrapTotal.summary().median;
    return {
      method: [
        `Stratus: before each burst UpdateFunctionConfiguration retires the environments of \`${FN}\` (no-op, 128 MB) and the bench waits until no sandbox is left; ` +
          `then ${n} signed Invokes are sent at once on ${n} connections. Time: first request sent → last reply received. ` +
          'Environments created: the sandboxes alive right after the burst.',
        `Baselines, interleaved: ${n} concurrent \`node -e 0\` spawned by the bench (PATH-only environment, as in the sandbox), and ${n} concurrent \`node -e 0\` in Stratus's bwrap sandbox (BubblewrapSandboxDriver); time until the last exits.`,
        `${ctx.rounds} rounds; the first burst right after CreateFunction (code not yet unpacked on the worker) is reported separately.`,
      ],
      tables: [
        {
          title: `Time until all ${n} have completed`,
          rows: [
            s.nodeTotal.row(`floor: ${n} × plain \`node -e 0\``, 'all exited', 'ms'),
            s.bwrapTotal.row(`${n} × \`node -e 0\` in a bwrap sandbox`, 'all exited', 'ms'),
            s.stratusTotal.row(`Stratus, ${n} invokes of a cold function`, 'all replied', 'ms'),
            s.first.row('Stratus, first burst after CreateFunction', 'all replied', 'ms'),
            s.latency.row('Stratus, each invoke of the burst', 'latency', 'ms'),
            s.retire.row(`Stratus, retiring the previous burst's ${n} environments`, 'until all gone', 'ms', 'UpdateFunctionConfiguration → no sandbox left'),
          ],
        },
        {
          title: 'Rate',
          rows: [
            s.nodePerS.row('floor: plain `node -e 0`', 'processes/s', '1/s'),
            s.bwrapPerS.row('`node -e 0` in a bwrap sandbox', 'processes/s', '1/s'),
            s.envsPerS.row('Stratus', 'environments created/s', '1/s'),
          ],
        },
      ],
      checks: [
        check('4. burst', `all ${n} succeed`, `${errors} errors in ${bursts} bursts of ${n} (+${firstErrors} in the first burst)`, errors === 0),
        check('4. burst', `all ${n} complete in ≤ ${ms(TARGET_TOTAL_MS)} (median burst)`,
          `${ms(total)} (floors: ${n} × \`node -e 0\` ${ms(floorTotal)}, ${n} × bwrap \`node -e 0\` ${ms(bwrapTotal)})`, total <= TARGET_TOTAL_MS),
      ],
      notes: [
        `${envs} environments were created over ${bursts} measured bursts (${n} each).`,
        `No target: ${perCore.toFixed(1)} environments created/s per core (${s.envsPerS.summary().median.toFixed(1)}/s on ${ctx.cores} cores).`,
        ...[...errorTexts].slice(0, 5).map((e) => `Error seen: ${e}`),
      ],
    };
  },
};
