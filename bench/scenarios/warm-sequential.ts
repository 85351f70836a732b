/**
 * Scenario 1 — warm invoke, one client at a time: end-to-end latency of a no-op Node.js
 * function through the signed Lambda API on a keep-alive connection, against the floor (a bare
 * Node.js HTTP echo server answering the same signed request over the same kind of client).
 */
import { KeepAliveInvoker, type Reply } from '../client.js';
import { createFunction, noopZip } from '../functions.js';
import { check, ms, rotate, Series, type Scenario } from '../scenario.js';
import { cpuSplitMs } from '../harness.js';
import { median } from '../stats.js';
import { startBenchStratus, startFloor } from '../targets.js';

const FN = 'bench-noop';
const TARGET_OVERHEAD_MS = 0.4;
const TARGET_CPU_MS = 0.35;

export const warmSequential: Scenario = {
  id: 'warm-sequential',
  title: '1. Warm invoke, sequential (1 client)',
  async run(ctx) {
    const blocksPerRound = ctx.quick ? 2 : 5;
    const perBlock = ctx.quick ? 100 : 200;
    const stratus = await startBenchStratus();
    const floor = await startFloor();
    await createFunction(stratus.proc.lambda, FN, await noopZip());
    const clients = {
      floor: new KeepAliveInvoker(stratus.signer, floor.target(stratus.target(FN).path)),
      stratus: new KeepAliveInvoker(stratus.signer, stratus.target(FN)),
    };
    const series = { floor: new Series(), stratus: new Series() };
    const cpu = { floor: new Series(), stratus: new Series(), sandboxes: new Series() };
    const pids = { floor: floor.pid, stratus: stratus.proc.pid };
    const errors = { floor: 0, stratus: 0 };
    const isOk = (r: Reply) => r.status === 200 && !r.headers['x-amz-function-error'];
    try {
      // Warm-up: the first Stratus invoke is the cold start; then let both JITs settle.
      for (const name of ['floor', 'stratus'] as const) {
        for (let i = 0; i < 300; i++) {
          const reply = await clients[name].invoke();
          if (!isOk(reply)) throw new Error(`warm-up invoke of ${name} failed: HTTP ${reply.status} ${reply.body.toString().slice(0, 300)}`);
        }
      }
      for (let round = 0; round < ctx.rounds; round++) {
        for (let block = 0; block < blocksPerRound; block++) {
          for (const name of rotate(['floor', 'stratus'] as const, round + block)) {
            const before = await cpuSplitMs(pids[name]);
            for (let i = 0; i < perBlock; i++) {
              const reply = await clients[name].invoke();
              if (isOk(reply)) series[name].add(round, reply.ms);
              else errors[name]++;
            }
            const after = await cpuSplitMs(pids[name]);
            cpu[name].add(round, (after.self - before.self) / perBlock);
            if (name === 'stratus') cpu.sandboxes.add(round, (after.descendants - before.descendants) / perBlock);
          }
        }
      }
    } finally {
      clients.floor.close();
      clients.stratus.close();
      await floor.stop();
      await stratus.stop();
    }
    const overhead = new Series();
    for (let r = 0; r < ctx.rounds; r++) {
      overhead.add(r, median(series.stratus.rounds[r] ?? []) - median(series.floor.rounds[r] ?? []));
    }
    const f = series.floor.summary();
    const s = series.stratus.summary();
    const added = s.median - f.median;
    const cpuStratus = cpu.stratus.summary().median;
    const cpuFloor = cpu.floor.summary().median;
    return {
      method: [
        'Client: one Node.js http.Agent connection with keep-alive (maxSockets 1) in the bench process; every request is signed with ' +
          'SigV4 (@smithy/signature-v4, as the AWS SDK signs) and the clock runs from sending the request to the last byte of the reply (signing is outside it).',
        'Floor: a bare Node.js HTTP server in its own process that echoes the body; it gets the very same signed POST /2015-03-31/functions/…/invocations.',
        `Stratus: the function \`${FN}\` (nodejs20.x, 128 MB, \`async () => ({})\`), payload \`{}\`, after 300 warm-up invokes of each target.`,
        `Per round ${blocksPerRound} alternating blocks of ${perBlock} requests per target; ${ctx.rounds} rounds.`,
      ],
      tables: [
        {
          title: 'Latency per invoke',
          rows: [
            series.floor.row('floor: bare Node.js HTTP echo', 'latency', 'ms'),
            series.stratus.row('Stratus', 'latency', 'ms'),
            overhead.row('Stratus − floor', 'added latency', 'ms', 'per-round medians'),
          ],
        },
        {
          title: 'CPU time per invoke (user + system from /proc/<pid>/stat, over each block of requests)',
          rows: [
            cpu.floor.row('floor: bare Node.js HTTP echo', 'CPU per request', 'ms'),
            cpu.stratus.row('Stratus process', 'CPU per request', 'ms'),
            cpu.sandboxes.row('Stratus sandbox (bwrap + runtime)', 'CPU per request', 'ms'),
          ],
        },
      ],
      checks: [
        check('1. warm sequential', `Stratus adds ≤ ${TARGET_OVERHEAD_MS} ms at the median over the floor`, `+${ms(added)} (${ms(s.median)} vs ${ms(f.median)})`, added <= TARGET_OVERHEAD_MS),
        check('1. warm sequential', `Stratus process CPU per warm invoke ≤ ${TARGET_CPU_MS} ms`, `${cpuStratus.toFixed(3)} ms (floor server ${cpuFloor.toFixed(3)} ms per request)`, cpuStratus <= TARGET_CPU_MS),
      ],
      notes: [
        `Errors: floor ${errors.floor}, Stratus ${errors.stratus} (non-200 or X-Amz-Function-Error).`,
      ],
    };
  },
};
