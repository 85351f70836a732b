/**
 * Scenario 10 — the gVisor driver's cost: the same hello-world function in a bubblewrap
 * sandbox and in gVisor (tag stratus:sandbox=gvisor) on one Stratus: cold start with no pool,
 * warm sequential latency, and the idle footprint of one environment.
 */
import { existsSync } from 'node:fs';
import { GetFunctionConfigurationCommand, TagResourceCommand } from '@aws-sdk/client-lambda';
import { expectOk, KeepAliveInvoker, reportOf } from '../client.js';
import { createFunction, forceCold, helloZip } from '../functions.js';
import { descendantsIn, procSnapshot, procStatusKb, pssKb, sleep, waitUntil } from '../harness.js';
import { check, ms, rotate, Series, x, type Scenario } from '../scenario.js';
import { ratio } from '../stats.js';
import { startBenchStratus, type BenchStratus } from '../targets.js';

const DRIVERS = ['bubblewrap', 'gvisor'] as const;
type Driver = (typeof DRIVERS)[number];
const FN: Record<Driver, string> = { bubblewrap: 'bench-hello-bwrap', gvisor: 'bench-hello-gvisor' };
const MB = 1024;
const SETTLE_MS = 1000;

interface PerDriver {
  coldE2e: Series;
  coldInit: Series;
  warm: Series;
  rss: Series;
  pss: Series;
}

/** Every process below Stratus: the one live environment's sandbox (bwrap or runsc, sentry, gofer). */
async function sandboxProcesses(stratus: BenchStratus): Promise<number[]> {
  return descendantsIn(await procSnapshot(), stratus.proc.pid);
}

async function noEnvironmentLeft(stratus: BenchStratus): Promise<void> {
  if (!(await waitUntil(async () => (await sandboxProcesses(stratus)).length === 0, 15_000))) {
    throw new Error('retired environments did not go away within 15 s');
  }
}

export const gvisorCost: Scenario = {
  id: 'gvisor',
  title: '10. gVisor driver vs bubblewrap',
  standalone: true,
  async run(ctx) {
    if (!existsSync('/usr/bin/runsc')) throw new Error('runsc is not installed (scripts/setup.sh installs it): no gVisor sandbox to measure');
    const coldReps = ctx.quick ? 2 : 4;
    const warmN = ctx.quick ? 50 : 300;
    const s: Record<Driver, PerDriver> = {
      bubblewrap: { coldE2e: new Series(), coldInit: new Series(), warm: new Series(), rss: new Series(), pss: new Series() },
      gvisor: { coldE2e: new Series(), coldInit: new Series(), warm: new Series(), rss: new Series(), pss: new Series() },
    };
    const stratus = await startBenchStratus();
    const clients = new Map<Driver, KeepAliveInvoker>();
    let seq = 0;
    try {
      for (const d of DRIVERS) {
        await createFunction(stratus.proc.lambda, FN[d], await helloZip());
        clients.set(d, new KeepAliveInvoker(stratus.signer, stratus.target(FN[d])));
      }
      const arn = (await stratus.proc.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: FN.gvisor }))).FunctionArn;
      await stratus.proc.lambda.send(new TagResourceCommand({ Resource: arn, Tags: { 'stratus:sandbox': 'gvisor' } }));
      const client = (d: Driver) => clients.get(d) as KeepAliveInvoker;

      /** One cold start (and, for the first of a round, the idle footprint of the environment it made). */
      const cold = async (d: Driver, round: number | undefined, measureFootprint: boolean) => {
        await noEnvironmentLeft(stratus);
        const reply = await client(d).invoke('{}', { 'x-amz-log-type': 'Tail' });
        expectOk(reply, `cold invoke (${d})`);
        const init = reportOf(reply).initDurationMs;
        if (init === undefined) throw new Error(`cold invoke (${d}) had no Init Duration: was it cold?`);
        if (round !== undefined) {
          s[d].coldE2e.add(round, reply.ms);
          s[d].coldInit.add(round, init);
        }
        if (round !== undefined && measureFootprint) {
          await sleep(SETTLE_MS);
          let rss = 0;
          let pss = 0;
          for (const pid of await sandboxProcesses(stratus)) {
            rss += await procStatusKb(pid);
            pss += await pssKb(pid);
          }
          s[d].rss.add(round, rss / MB);
          s[d].pss.add(round, pss / MB);
        }
        await forceCold(stratus.proc.lambda, FN[d], `c${seq++}`);
      };
      const warm = async (d: Driver, round: number) => {
        await noEnvironmentLeft(stratus);
        expectOk(await client(d).invoke(), `first invoke (${d})`);
        for (let i = 0; i < warmN; i++) {
          const reply = await client(d).invoke();
          expectOk(reply, `warm invoke (${d})`);
          s[d].warm.add(round, reply.ms);
        }
        await forceCold(stratus.proc.lambda, FN[d], `w${seq++}`);
      };

      // Unmeasured: the code goes into the worker's cache, runsc's binary into the page cache.
      for (const d of DRIVERS) await cold(d, undefined, false);
      for (let round = 0; round < ctx.rounds; round++) {
        for (let i = 0; i < coldReps; i++) for (const d of rotate(DRIVERS, round + i)) await cold(d, round, i === 0);
        for (const d of rotate(DRIVERS, round)) await warm(d, round);
      }
    } finally {
      for (const c of clients.values()) c.close();
      await stratus.stop();
    }
    const med = (series: Series) => series.summary().median;
    const coldRatio = ratio(med(s.gvisor.coldE2e), med(s.bubblewrap.coldE2e));
    const warmAdded = med(s.gvisor.warm) - med(s.bubblewrap.warm);
    const rssAdded = med(s.gvisor.rss) - med(s.bubblewrap.rss);
    const pssAdded = med(s.gvisor.pss) - med(s.bubblewrap.pss);
    const rows = (d: Driver, label: string) => [
      s[d].coldE2e.row(`${label}: cold start, no pool`, 'end to end', 'ms'),
      s[d].coldInit.row(`${label}: cold start, no pool`, 'Init Duration', 'ms'),
      s[d].warm.row(`${label}: warm invoke, sequential`, 'end to end', 'ms'),
      s[d].rss.row(`${label}: one idle environment`, 'VmRSS', 'MB'),
      s[d].pss.row(`${label}: one idle environment`, 'PSS', 'MB'),
    ];
    return {
      method: [
        `One Stratus (bubblewrap by default) with two copies of the hello-world function (128 MB): \`${FN.bubblewrap}\` and \`${FN.gvisor}\`, ` +
          'the latter tagged stratus:sandbox=gvisor (runsc, ptrace platform, in the same per-sandbox cgroups).',
        `Cold start: ${coldReps} samples per driver per round, drivers in rotating order; before each sample the bench waits until no sandbox ` +
          'process is left, times one signed Invoke with LogType=Tail (client send → last byte) and reads Init Duration; then ' +
          'UpdateFunctionConfiguration retires the environment. The first cold start of each function is not measured.',
        `Warm: one unmeasured invoke, then ${warmN} sequential invokes on a keep-alive connection per driver per round.`,
        'Footprint: after the first cold start of each round, with only that environment alive and 1 s idle, the sum of VmRSS (and PSS) of every ' +
          'process below Stratus: bwrap + stratus-init + node; or runsc + gofer + sentry + its ptrace stubs (the function\'s node runs inside the sentry).',
        `${ctx.rounds} rounds.`,
      ],
      tables: [{ title: 'Hello world, bubblewrap vs gVisor', rows: [...rows('bubblewrap', 'bubblewrap'), ...rows('gvisor', 'gVisor')] }],
      checks: [
        check('10. gvisor', 'cold start, gVisor vs bubblewrap (no target; ~3x measured by hand)', `${x(coldRatio)} (${ms(med(s.gvisor.coldE2e))} vs ${ms(med(s.bubblewrap.coldE2e))})`, null),
        check('10. gvisor', 'warm sequential, added per request (no target; ~+0.3 ms measured by hand)', `+${ms(warmAdded)} (${ms(med(s.gvisor.warm))} vs ${ms(med(s.bubblewrap.warm))})`, null),
        check('10. gvisor', 'idle environment, added memory (no target; ~+50 MB RSS measured by hand)', `+${rssAdded.toFixed(1)} MB RSS, +${pssAdded.toFixed(1)} MB PSS`, null),
      ],
      notes: [],
    };
  },
};
