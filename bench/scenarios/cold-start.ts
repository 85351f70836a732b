/**
 * Scenario 3 — cold start: a new environment for a hello-world Node.js function, end to end and
 * broken down, against a plain `node -e 0` start; and a function with a heavy init (module
 * loading) against a plain `node` loading the same files; the same hello world in Python against
 * `python3 -c 0`. Each with and without the warm pool.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { KeepAliveInvoker, reportOf, type Reply } from '../client.js';
import { createFunction, forceCold, heavyInitFiles, heavyZip, helloZip, pythonHelloZip } from '../functions.js';
import { CLEAN_ENV, timeCommand, waitUntil } from '../harness.js';
import { sandboxFloor } from '../sandbox-floor.js';
import { check, ms, rotate, Series, x, type Scenario } from '../scenario.js';
import { ratio } from '../stats.js';
import { startBenchStratus, type BenchStratus } from '../targets.js';

const HELLO = 'bench-hello';
const HEAVY = 'bench-heavy-init';
const PY_HELLO = 'bench-hello-py';
const PYTHON = '/usr/bin/python3';
/** Issue 17: a cold start without a pool ≤ 1.5x a bare process start, from the warm pool ≤ 0.5x. */
const TARGET_RATIO = 1.5;
const POOL_TARGET_RATIO = 0.5;

interface ColdSample {
  e2e: number;
  init: number;
  duration: number;
  warm: number;
}

/**
 * One cold invoke: wait until no environment is left, invoke with a log tail, then one warm
 * invoke; then retire the function's environment (a configuration change) for the next sample.
 */
async function coldInvoke(stratus: BenchStratus, client: KeepAliveInvoker, fn: string, marker: string, poolSize = 0): Promise<ColdSample> {
  // With a warm pool, "cold" means: the function's own environment is gone and the pool is full again.
  if (!(await waitUntil(async () => (await stratus.sandboxes()).length === poolSize, 10_000))) {
    throw new Error('retired environments did not go away (or the warm pool did not refill) within 10 s');
  }
  const cold = await client.invoke('{}', { 'x-amz-log-type': 'Tail' });
  assertOk(cold, `cold invoke of ${fn}`);
  const report = reportOf(cold);
  if (report.initDurationMs === undefined || report.durationMs === undefined) {
    throw new Error(`cold invoke of ${fn} had no Init Duration in its REPORT line (was it really cold?)`);
  }
  const warm = await client.invoke();
  assertOk(warm, `warm invoke of ${fn}`);
  await forceCold(stratus.proc.lambda, fn, marker);
  return { e2e: cold.ms, init: report.initDurationMs, duration: report.durationMs, warm: warm.ms };
}

function assertOk(r: Reply, what: string): void {
  if (r.status !== 200 || r.headers['x-amz-function-error']) throw new Error(`${what}: HTTP ${r.status} ${r.body.toString().slice(0, 300)}`);
}

const POOL_SIZE = 2;
/** The pooled Stratus keeps POOL_SIZE stems of each runtime. */
const POOL_RUNTIMES = ['nodejs20.x', 'python3.11'];
const POOL_SANDBOXES = POOL_SIZE * POOL_RUNTIMES.length;

export const coldStart: Scenario = {
  id: 'cold-start',
  title: '3. Cold start',
  async run(ctx) {
    const reps = ctx.quick ? 2 : 3;
    const heavyReps = ctx.quick ? 1 : 2;
    const node = process.execPath;
    // The heavy function's files, unpacked on the host for the plain-node baseline.
    const heavyDir = join(ctx.scratch, 'heavy-init');
    for (const [path, text] of Object.entries(heavyInitFiles())) {
      await mkdir(dirname(join(heavyDir, path)), { recursive: true });
      await writeFile(join(heavyDir, path), text);
    }
    const sandbox = await sandboxFloor(ctx.scratch);
    const stratus = await startBenchStratus();
    const pooled = await startBenchStratus(['--warm-pool', String(POOL_SIZE), '--warm-pool-runtimes', POOL_RUNTIMES.join(',')]);
    const s = {
      nodeStart: new Series(), nodeMachineEnv: new Series(), bwrapTrue: new Series(), bwrapNode: new Series(),
      bwrapRuntime: new Series(), heavyNode: new Series(),
      helloE2e: new Series(), helloInit: new Series(), helloDuration: new Series(), helloWarm: new Series(),
      poolE2e: new Series(), poolInit: new Series(),
      heavyE2e: new Series(), heavyInit: new Series(),
      pyStart: new Series(), bwrapPy: new Series(), pyE2e: new Series(), pyInit: new Series(), pyPoolE2e: new Series(), pyPoolInit: new Series(),
    };
    try {
      await createFunction(stratus.proc.lambda, HELLO, await helloZip());
      await createFunction(stratus.proc.lambda, HEAVY, await heavyZip());
      await createFunction(pooled.proc.lambda, HELLO, await helloZip());
      await createFunction(stratus.proc.lambda, PY_HELLO, await pythonHelloZip(), { runtime: 'python3.11' });
      await createFunction(pooled.proc.lambda, PY_HELLO, await pythonHelloZip(), { runtime: 'python3.11' });
      const poolHello = new KeepAliveInvoker(pooled.signer, pooled.target(HELLO));
      const poolPy = new KeepAliveInvoker(pooled.signer, pooled.target(PY_HELLO));
      await coldInvoke(pooled, poolHello, HELLO, 'warmup', POOL_SANDBOXES);
      await coldInvoke(pooled, poolPy, PY_HELLO, 'warmup', POOL_SANDBOXES);
      const hello = new KeepAliveInvoker(stratus.signer, stratus.target(HELLO));
      const heavy = new KeepAliveInvoker(stratus.signer, stratus.target(HEAVY));
      const py = new KeepAliveInvoker(stratus.signer, stratus.target(PY_HELLO));
      // Unmeasured first cold starts: unpack each function's code into the worker's cache.
      await coldInvoke(stratus, hello, HELLO, 'warmup');
      await coldInvoke(stratus, heavy, HEAVY, 'warmup');
      await coldInvoke(stratus, py, PY_HELLO, 'warmup');
      await timeCommand(node, ['-e', '0'], { env: CLEAN_ENV });
      await timeCommand(PYTHON, ['-c', '0'], { env: CLEAN_ENV });
      await sandbox.run([node, '-e', '0']);
      const machineEnvNeeded = process.env['NODE_EXTRA_CA_CERTS'] !== undefined;
      let seq = 0;
      const steps: Record<string, (round: number) => Promise<void>> = {
        node: async (r) => s.nodeStart.add(r, await timeCommand(node, ['-e', '0'], { env: CLEAN_ENV })),
        nodeMachineEnv: async (r) => {
          if (machineEnvNeeded) s.nodeMachineEnv.add(r, await timeCommand(node, ['-e', '0']));
        },
        bwrapTrue: async (r) => s.bwrapTrue.add(r, await sandbox.run(['/bin/true'])),
        bwrapNode: async (r) => s.bwrapNode.add(r, await sandbox.run([node, '-e', '0'])),
        bwrapRuntime: async (r) => s.bwrapRuntime.add(r, await sandbox.run([node, '/var/runtime/bootstrap.cjs'], { withRuntime: true, exitCode: 1 })),
        hello: async (r) => {
          const c = await coldInvoke(stratus, hello, HELLO, `r${r}-${seq++}`);
          s.helloE2e.add(r, c.e2e);
          s.helloInit.add(r, c.init);
          s.helloDuration.add(r, c.duration);
          s.helloWarm.add(r, c.warm);
        },
        pool: async (r) => {
          const c = await coldInvoke(pooled, poolHello, HELLO, `p${r}-${seq++}`, POOL_SANDBOXES);
          s.poolE2e.add(r, c.e2e);
          s.poolInit.add(r, c.init);
        },
      };
      const pySteps: Record<string, (round: number) => Promise<void>> = {
        python: async (r) => s.pyStart.add(r, await timeCommand(PYTHON, ['-c', '0'], { env: CLEAN_ENV })),
        bwrapPython: async (r) => s.bwrapPy.add(r, await sandbox.run([PYTHON, '-c', '0'])),
        py: async (r) => {
          const c = await coldInvoke(stratus, py, PY_HELLO, `y${r}-${seq++}`);
          s.pyE2e.add(r, c.e2e);
          s.pyInit.add(r, c.init);
        },
        pyPool: async (r) => {
          const c = await coldInvoke(pooled, poolPy, PY_HELLO, `q${r}-${seq++}`, POOL_SANDBOXES);
          s.pyPoolE2e.add(r, c.e2e);
          s.pyPoolInit.add(r, c.init);
        },
      };
      const heavySteps: Record<string, (round: number) => Promise<void>> = {
        heavyNode: async (r) => s.heavyNode.add(r, await timeCommand(node, ['-e', `require(${JSON.stringify(join(heavyDir, 'index.js'))})`], { env: CLEAN_ENV })),
        heavy: async (r) => {
          const c = await coldInvoke(stratus, heavy, HEAVY, `r${r}-${seq++}`);
          s.heavyE2e.add(r, c.e2e);
          s.heavyInit.add(r, c.init);
        },
      };
      for (let round = 0; round < ctx.rounds; round++) {
        for (let i = 0; i < reps; i++) for (const k of rotate(Object.keys(steps), round + i)) await steps[k]?.(round);
        for (let i = 0; i < reps; i++) for (const k of rotate(Object.keys(pySteps), round + i)) await pySteps[k]?.(round);
        for (let i = 0; i < heavyReps; i++) for (const k of rotate(Object.keys(heavySteps), round + i)) await heavySteps[k]?.(round);
      }
      hello.close();
      heavy.close();
      py.close();
      poolHello.close();
      poolPy.close();
    } finally {
      await pooled.stop();
      await stratus.stop();
    }
    const med = (series: Series) => series.summary().median;
    const helloE2e = med(s.helloE2e);
    const nodeStart = med(s.nodeStart);
    const sandboxCreate = med(s.bwrapTrue);
    const runtimeBoot = med(s.bwrapNode) - sandboxCreate;
    const clientLoad = med(s.bwrapRuntime) - med(s.bwrapNode);
    const initRest = med(s.helloInit) - med(s.bwrapRuntime);
    const firstInvoke = med(s.helloDuration);
    const platform = helloE2e - med(s.helloInit) - firstInvoke;
    const parts: [string, string, number][] = [
      ['sandbox create', 'bwrap `/bin/true`', sandboxCreate],
      ['node boot', 'bwrap `node -e 0` − bwrap `/bin/true`', runtimeBoot],
      ['runtime client load (its modules)', 'bwrap runtime client, no API − bwrap `node -e 0`', clientLoad],
      ['environment setup, sandbox init, function init, first /next', 'Init Duration − bwrap runtime client, no API', initRest],
      ['first invoke', 'REPORT Duration', firstInvoke],
      ['platform (API, assignment, worker, HTTP)', 'end to end − Init Duration − Duration', platform],
      ['total', 'end to end', helloE2e],
    ];
    const breakdown = {
      header: ['Part', 'Estimated as (medians)', 'ms', 'share'],
      cells: parts.map(([part, how, v]) => [part, how, v.toFixed(1), `${Math.round((v / helloE2e) * 100)}%`]),
    };
    const helloRatio = ratio(helloE2e, nodeStart);
    const poolRatio = ratio(med(s.poolE2e), nodeStart);
    const pyStart = med(s.pyStart);
    const pyRatio = ratio(med(s.pyE2e), pyStart);
    const pyPoolRatio = ratio(med(s.pyPoolE2e), pyStart);
    return {
      method: [
        'Each Stratus sample: UpdateFunctionConfiguration changes an environment variable (Stratus retires the old environments), ' +
          'the bench waits until no sandbox is left, then times one signed Invoke with LogType=Tail on a keep-alive connection (client send → last byte) ' +
          'and reads Init Duration and Duration from the REPORT line; one warm invoke follows.',
        'Baselines, interleaved with the Stratus samples in rotating order: `node -e 0` spawned by the bench (spawn → exit) with PATH as its only ' +
          'environment variable, as in the sandbox (this machine sets NODE_EXTRA_CA_CERTS, which slows every node start: shown as its own row); ' +
          "Stratus's own BubblewrapSandboxDriver (the same bwrap arguments as a real environment) running `/bin/true`, `node -e 0`, " +
          'and the Stratus runtime client (`node /var/runtime/bootstrap.cjs` with no Runtime API configured: it loads all its modules and exits).',
        `Functions: \`${HELLO}\` (\`async () => ({ message: 'hello world' })\`, CommonJS) and \`${HEAVY}\` (requires 100 generated modules, ~3.5 MB of JS), 128 MB each. ` +
          'The first cold start of each (which unpacks the code into the worker cache) is not measured.',
        `${ctx.rounds} rounds × ${reps} hello samples and ${heavyReps} heavy-init samples.`,
        `Warm pool: a second Stratus with \`--warm-pool ${POOL_SIZE} --warm-pool-runtimes ${POOL_RUNTIMES.join(',')}\` (${POOL_SIZE} runtimes of each booted ahead of any function); a sample waits until the ` +
          'previous environment is retired and the pool is full again, so the cold start takes a stem: its code is copied in and the runtime loads it.',
        `Python: \`${PY_HELLO}\` (python3.11, \`def handler(event, context): return {...}\`) against \`${PYTHON} -c 0\` (PATH-only environment) and the same in the bwrap sandbox, ` +
          `${reps} samples of each per round, interleaved in rotating order.`,
        'Init Duration (Stratus) runs from the moment the worker starts setting up the environment (control dir, Runtime API socket, code, bwrap spawn) ' +
          "to the runtime's first GET /next, i.e. after the handler module is loaded.",
      ],
      tables: [
        {
          title: 'Hello world',
          rows: [
            s.nodeStart.row('floor: plain `node -e 0` start', 'process start', 'ms'),
            ...(s.nodeMachineEnv.summary().n ? [s.nodeMachineEnv.row('`node -e 0` with this machine\'s environment', 'process start', 'ms', 'NODE_EXTRA_CA_CERTS set')] : []),
            s.bwrapTrue.row('bwrap sandbox, `/bin/true`', 'process start', 'ms'),
            s.bwrapNode.row('bwrap sandbox, `node -e 0`', 'process start', 'ms'),
            s.bwrapRuntime.row('bwrap sandbox, Stratus runtime client with no Runtime API', 'load + exit', 'ms'),
            s.helloE2e.row('Stratus cold start, no pool', 'end to end', 'ms'),
            s.helloInit.row('Stratus cold start, no pool', 'Init Duration', 'ms'),
            s.helloDuration.row('Stratus cold start, no pool', 'first invoke Duration', 'ms'),
            s.helloWarm.row('Stratus warm invoke right after', 'end to end', 'ms'),
            s.poolE2e.row(`Stratus cold start, warm pool (--warm-pool ${POOL_SIZE})`, 'end to end', 'ms'),
            s.poolInit.row(`Stratus cold start, warm pool (--warm-pool ${POOL_SIZE})`, 'Init Duration (function init only)', 'ms'),
          ],
        },
        { title: 'Hello world cold start, broken down (from the medians above)', rows: [], plain: breakdown },
        {
          title: 'Hello world, Python',
          rows: [
            s.pyStart.row('floor: plain `python3 -c 0` start', 'process start', 'ms'),
            s.bwrapPy.row('bwrap sandbox, `python3 -c 0`', 'process start', 'ms'),
            s.pyE2e.row('Stratus cold start, no pool', 'end to end', 'ms'),
            s.pyInit.row('Stratus cold start, no pool', 'Init Duration', 'ms'),
            s.pyPoolE2e.row(`Stratus cold start, warm pool (--warm-pool ${POOL_SIZE})`, 'end to end', 'ms'),
            s.pyPoolInit.row(`Stratus cold start, warm pool (--warm-pool ${POOL_SIZE})`, 'Init Duration (function init only)', 'ms'),
          ],
        },
        {
          title: 'Heavy init (100 modules)',
          rows: [
            s.heavyNode.row('floor: plain `node` requiring the same files', 'process start + load', 'ms'),
            s.heavyE2e.row('Stratus cold start, no pool', 'end to end', 'ms'),
            s.heavyInit.row('Stratus cold start, no pool', 'Init Duration', 'ms'),
          ],
        },
      ],
      checks: [
        check('3. cold start', `hello world, no pool: ≤ ${TARGET_RATIO}x a plain \`node -e 0\` start`, `${x(helloRatio)} (${ms(helloE2e)} vs ${ms(nodeStart)})`, helloRatio <= TARGET_RATIO),
        check('3. cold start', `with a warm pool: ≤ ${POOL_TARGET_RATIO}x a plain \`node -e 0\` start`, `${x(poolRatio)} (${ms(med(s.poolE2e))} vs ${ms(nodeStart)})`, poolRatio <= POOL_TARGET_RATIO),
        check('3. cold start', `Python hello world, no pool: ≤ ${TARGET_RATIO}x a plain \`python3 -c 0\` start`, `${x(pyRatio)} (${ms(med(s.pyE2e))} vs ${ms(pyStart)})`, pyRatio <= TARGET_RATIO),
        check('3. cold start', `Python, with a warm pool: ≤ ${POOL_TARGET_RATIO}x a plain \`python3 -c 0\` start`, `${x(pyPoolRatio)} (${ms(med(s.pyPoolE2e))} vs ${ms(pyStart)})`, pyPoolRatio <= POOL_TARGET_RATIO),
      ],
      notes: [
        `Heavy init: Stratus cold start is ${x(ratio(med(s.heavyE2e), med(s.heavyNode)))} a plain node loading the same modules ` +
          `(${ms(med(s.heavyE2e))} vs ${ms(med(s.heavyNode))}).`,
        'The breakdown subtracts medians of separately measured series, so its parts are estimates and need not add up exactly.',
      ],
    };
  },
};
