/**
 * Scenario 5 — footprint: resident memory of an idle warm environment against a bare idle
 * Node.js process, and how much the Stratus process grows per 100 idle environments.
 */
import { Agent } from 'node:http';
import { send } from '../client.js';
import { createFunction, noopZip } from '../functions.js';
import { CLEAN_ENV, log, procStatusKb, pssKb, sleep, spawnTracked } from '../harness.js';
import { check, rotate, Series, x, type Scenario } from '../scenario.js';
import { ratio } from '../stats.js';
import { startBenchStratus, type BenchStratus, type SandboxPids } from '../targets.js';

const FN = 'bench-idle';
const TARGET_RATIO = 1.2;
const MB = 1024;
const SETTLE_MS = 2000;

const sum = async (pids: number[], read: (pid: number) => Promise<number>) => {
  let total = 0;
  for (const pid of pids) total += await read(pid);
  return total;
};

async function invokeConcurrently(stratus: BenchStratus, n: number): Promise<number> {
  const target = stratus.target(FN);
  const headers = await stratus.signer.headers(target, '{}');
  const agent = new Agent({ keepAlive: true, maxSockets: n });
  const replies = await Promise.all(Array.from({ length: n }, () => send(agent, target, headers, '{}').catch(() => undefined)));
  agent.destroy();
  return replies.filter((r) => r?.status === 200 && !r.headers['x-amz-function-error']).length;
}

export const footprint: Scenario = {
  id: 'footprint',
  title: '5. Footprint: memory of idle environments',
  async run(ctx) {
    const envTarget = ctx.quick ? 20 : 100;
    const s = {
      bareRss: new Series(), barePss: new Series(), runtimeRss: new Series(), runtimePss: new Series(),
      bwrapRss: new Series(), envRss: new Series(), envPss: new Series(),
      stratusEmpty: new Series(), stratusOne: new Series(), stratusMany: new Series(), growth: new Series(),
    };
    const envCounts: number[] = [];
    const record = async (round: number, boxes: SandboxPids[]) => {
      for (const b of boxes) {
        const runtimeRss = await sum(b.inside, (p) => procStatusKb(p));
        const runtimePss = await sum(b.inside, pssKb);
        const bwrapRss = await procStatusKb(b.bwrap);
        if (runtimeRss === 0) continue;
        s.runtimeRss.add(round, runtimeRss / MB);
        s.runtimePss.add(round, runtimePss / MB);
        s.bwrapRss.add(round, bwrapRss / MB);
        s.envRss.add(round, (runtimeRss + bwrapRss) / MB);
        s.envPss.add(round, (runtimePss + (await pssKb(b.bwrap))) / MB);
      }
    };
    const bare = async (round: number) => {
      const procs = Array.from({ length: 3 }, () => spawnTracked(process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], { env: CLEAN_ENV }));
      await sleep(SETTLE_MS);
      for (const p of procs) {
        s.bareRss.add(round, (await procStatusKb(p.pid)) / MB);
        s.barePss.add(round, (await pssKb(p.pid)) / MB);
      }
      await Promise.all(procs.map((p) => p.stop()));
    };
    const platform = async (round: number) => {
      const stratus = await startBenchStratus();
      try {
        await createFunction(stratus.proc.lambda, FN, await noopZip());
        await sleep(SETTLE_MS);
        s.stratusEmpty.add(round, (await procStatusKb(stratus.proc.pid)) / MB);
        if ((await invokeConcurrently(stratus, 1)) !== 1) throw new Error('the first invoke failed');
        await sleep(SETTLE_MS);
        const one = await procStatusKb(stratus.proc.pid);
        s.stratusOne.add(round, one / MB);
        await record(round, await stratus.sandboxes());
        const ok = await invokeConcurrently(stratus, envTarget);
        await sleep(SETTLE_MS);
        const boxes = await stratus.sandboxes();
        const many = await procStatusKb(stratus.proc.pid);
        s.stratusMany.add(round, many / MB);
        envCounts.push(boxes.length);
        if (boxes.length > 1) s.growth.add(round, ((many - one) / MB) * (100 / (boxes.length - 1)));
        await record(round, boxes);
        log(`  round ${round + 1}: ${boxes.length} idle environments (${ok}/${envTarget} invokes ok), Stratus RSS ${(one / MB).toFixed(0)} → ${(many / MB).toFixed(0)} MB`);
      } finally {
        await stratus.stop();
      }
    };
    for (let round = 0; round < ctx.rounds; round++) {
      for (const step of rotate([bare, platform], round)) await step(round);
    }
    const envRss = s.envRss.summary().median;
    const bareRss = s.bareRss.summary().median;
    const envRatio = ratio(envRss, bareRss);
    return {
      method: [
        'Memory is VmRSS from /proc/<pid>/status (PSS from /proc/<pid>/smaps_rollup, which splits shared pages such as the node binary among the processes sharing them, shown alongside).',
        'Baseline: three bare idle `node -e "setInterval(() => {}, 1e6)"` processes (PATH-only environment, as in the sandbox), measured after 2 s.',
        `Stratus: a fresh \`stratus up\` per round; RSS of its process with the function created and no environment, after one invoke (1 idle environment), ` +
          `and after ${envTarget} concurrent invokes (up to ${envTarget} idle environments), each after 2 s idle. ` +
          'Growth per 100 environments = (RSS with N environments − RSS with 1) × 100 / (N − 1).',
        'An idle warm environment = every process inside its sandbox (its pid 1 and the node runtime below it) and the bwrap monitor process that holds its namespaces, ' +
          'measured for every idle environment of each round.',
        `${ctx.rounds} rounds, baseline and Stratus in rotating order.`,
      ],
      tables: [
        {
          title: 'Idle warm environment vs a bare idle Node.js process',
          rows: [
            s.bareRss.row('floor: bare idle `node`', 'VmRSS', 'MB'),
            s.barePss.row('floor: bare idle `node`', 'PSS', 'MB'),
            s.envRss.row('Stratus idle environment (runtime + bwrap)', 'VmRSS', 'MB'),
            s.envPss.row('Stratus idle environment (runtime + bwrap)', 'PSS', 'MB'),
            s.runtimeRss.row('  of which the processes inside the sandbox (init + node runtime)', 'VmRSS', 'MB'),
            s.runtimePss.row('  of which the processes inside the sandbox (init + node runtime)', 'PSS', 'MB'),
            s.bwrapRss.row('  of which the bwrap monitor', 'VmRSS', 'MB'),
          ],
        },
        {
          title: 'The Stratus process',
          rows: [
            s.stratusEmpty.row('Stratus, no environment', 'VmRSS', 'MB'),
            s.stratusOne.row('Stratus, 1 idle environment', 'VmRSS', 'MB'),
            s.stratusMany.row(`Stratus, ~${envTarget} idle environments`, 'VmRSS', 'MB'),
            s.growth.row('Stratus growth per 100 idle environments', 'VmRSS', 'MB'),
          ],
        },
      ],
      checks: [
        check('5. footprint', `idle warm Node.js environment ≤ ${TARGET_RATIO}x a bare idle node (VmRSS)`,
          `${x(envRatio)} (${envRss.toFixed(1)} vs ${bareRss.toFixed(1)} MB; runtime alone ${x(ratio(s.runtimeRss.summary().median, bareRss))})`, envRatio <= TARGET_RATIO),
        check('5. footprint', 'Stratus growth per 100 idle environments (no target)', `${s.growth.summary().median.toFixed(1)} MB`, null),
      ],
      notes: [`Idle environments per round: ${envCounts.join(', ')}.`],
    };
  },
};
