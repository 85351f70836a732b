/**
 * Scenario 14 — keep-alive that adapts: a synthetic trace shaped like the Azure Functions 2019
 * trace (keep-alive-workload.ts), replayed on a simulated clock through the real
 * AssignmentService with each keep-alive policy: fixed at 5, 10 and 20 minutes, and the hybrid
 * histogram policy (falling back to 10 minutes). Cold starts and memory-time per policy.
 */
import { FixedKeepAlive, HistogramKeepAlive, AssignmentService, type KeepAlivePolicy, type Lease } from '../../src/assignment/index.js';
import { MemoryJournal } from '../../src/journal/index.js';
import { PlacementService } from '../../src/placement/index.js';
import type { FunctionVersion } from '../../src/registry/index.js';
import { ManualClock } from '../../src/shared/clock.js';
import { keepAliveSchema } from '../../src/shared/config.js';
import { silentLogger } from '../../src/shared/log.js';
import type { EnvironmentOptions, EnvironmentSpec } from '../../src/worker/index.js';
import { fakeFunction, FakeWorker } from '../../test/helpers/fake-worker.js';
import { log } from '../harness.js';
import { check, x, type Scenario } from '../scenario.js';
import { generateTrace, type Pattern, type Trace } from './keep-alive-workload.js';

const MIN = 60_000;
const SEED = 2019;
/** The fixed keep-alive the histogram policy is compared with, and falls back to (Lambda's reputed 10 minutes; Stratus's default is 5). */
const BASELINE_MS = 10 * MIN;
const FIXED_MS = [5 * MIN, 10 * MIN, 20 * MIN];
const SWEEP_MS = 5000;

/** A fake worker that meters environment-seconds × memory from creation to destruction (idle time included). */
class MeteredWorker extends FakeWorker {
  private readonly open = new Map<string, { sinceMs: number; memoryMb: number; fn: string }>();
  mbMs = 0;
  readonly mbMsByFn = new Map<string, number>();

  constructor(private readonly clockOf: ManualClock) {
    super('w1', 1e9, { clock: clockOf });
  }

  override createEnvironment(envId: string, spec: EnvironmentSpec, opts?: EnvironmentOptions): Promise<void> {
    this.open.set(envId, { sinceMs: this.clockOf.now(), memoryMb: spec.memoryMb, fn: spec.functionName });
    return super.createEnvironment(envId, spec, opts);
  }

  override destroyEnvironment(envId: string, epoch?: number): Promise<void> {
    this.close(envId);
    return super.destroyEnvironment(envId, epoch);
  }

  /** Environments still alive at the end of the trace are metered up to it. */
  closeAll(): void {
    for (const envId of [...this.open.keys()]) this.close(envId);
  }

  private close(envId: string): void {
    const env = this.open.get(envId);
    if (!env) return;
    const mbMs = (this.clockOf.now() - env.sinceMs) * env.memoryMb;
    this.mbMs += mbMs;
    this.mbMsByFn.set(env.fn, (this.mbMsByFn.get(env.fn) ?? 0) + mbMs);
    this.open.delete(envId);
  }
}

interface Outcome {
  policy: string;
  invocations: number;
  cold: number;
  coldByPattern: Record<Pattern, number>;
  coldByFn: number[];
  /** Cold starts that found another environment of the function busy (scale-out), not none at all. */
  scaleOut: number;
  mbMsByFn: Map<string, number>;
  /** GB-hours of environments alive (busy or idle). */
  gbHours: number;
  /** Histograms kept at the end (the histogram policy). */
  footprint?: ReturnType<HistogramKeepAlive['footprint']>;
  wallMs: number;
}

interface Running {
  lease: Lease;
  fn: number;
}

/** Pending releases, earliest first (a binary heap). */
class Releases {
  private readonly heap: { atMs: number; lease: Running }[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): number {
    return this.heap[0]?.atMs ?? Infinity;
  }

  push(atMs: number, lease: Running): void {
    const h = this.heap;
    h.push({ atMs, lease });
    for (let i = h.length - 1, p = (i - 1) >> 1; i > 0 && h[p]!.atMs > h[i]!.atMs; i = p, p = (i - 1) >> 1) [h[p], h[i]] = [h[i]!, h[p]!];
  }

  pop(): { atMs: number; lease: Running } {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.atMs < h[m]!.atMs) m = l;
        if (r < h.length && h[r]!.atMs < h[m]!.atMs) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}

async function replay(trace: Trace, name: string, policy: KeepAlivePolicy): Promise<Outcome> {
  const t0 = performance.now();
  const clock = new ManualClock(0);
  const worker = new MeteredWorker(clock);
  const placement = new PlacementService();
  placement.register(worker);
  const assignment = new AssignmentService({
    config: { keepAliveMs: BASELINE_MS, sweepIntervalMs: SWEEP_MS, capacityWaitMs: 0, scalingBurst: 1e6, scalingWindowMs: 10_000, takeoverReleaseWaitMs: 0 },
    log: new MemoryJournal().assignmentLog, placement, clock, logger: silentLogger(), keepAlive: policy, compactEvery: 1e9,
  });
  await assignment.start();
  const fns: FunctionVersion[] = trace.functions.map((f) => ({ ...fakeFunction(f.name, 'r1', f.memoryMb), timeoutSec: 900 }));
  const releases = new Releases();
  let lastFlushMs = 0;
  /** Moves the simulated clock; sweeps that fired may have started pre-warms, whose boots settle before going on. */
  const advanceTo = async (atMs: number) => {
    if (atMs > clock.now()) clock.advance(atMs - clock.now());
    if (clock.now() - lastFlushMs >= SWEEP_MS) {
      lastFlushMs = clock.now();
      await new Promise((r) => setImmediate(r));
    }
  };
  const coldByPattern: Record<Pattern, number> = { timer: 0, poisson: 0, bursty: 0 };
  let cold = 0;
  let scaleOut = 0;
  const coldByFn = trace.functions.map(() => 0);
  const busy = trace.functions.map(() => 0);
  for (const inv of trace.invocations) {
    while (releases.peek() <= inv.atMs) {
      const r = releases.pop();
      await advanceTo(r.atMs);
      busy[r.lease.fn]!--;
      assignment.release(r.lease.lease, true);
    }
    await advanceTo(inv.atMs);
    const lease = await assignment.acquire(fns[inv.fn]!);
    if (lease.cold) {
      cold++;
      coldByFn[inv.fn]!++;
      if (busy[inv.fn]! > 0) scaleOut++;
      coldByPattern[trace.functions[inv.fn]!.pattern]++;
    }
    busy[inv.fn]!++;
    releases.push(inv.atMs + inv.durationMs, { lease, fn: inv.fn });
  }
  while (releases.size > 0) {
    const r = releases.pop();
    await advanceTo(r.atMs);
    busy[r.lease.fn]!--;
    assignment.release(r.lease.lease, true);
  }
  await advanceTo(trace.durationMs);
  worker.closeAll();
  const footprint = policy instanceof HistogramKeepAlive ? policy.footprint() : undefined;
  assignment.abdicate();
  return {
    policy: name, invocations: trace.invocations.length, cold, coldByPattern, coldByFn, scaleOut, mbMsByFn: worker.mbMsByFn, gbHours: worker.mbMs / 1024 / 3_600_000,
    footprint, wallMs: performance.now() - t0,
  };
}

const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(2)}%`;

/** Where each policy's cold starts and memory-time come from: per pattern and rate class, fixed 10 min → histogram. */
function breakdown(trace: Trace, fixed: Outcome, histogram: Outcome): string[][] {
  const rateClass = (perDay: number) => (perDay <= 24 ? 'at most hourly' : perDay <= 1440 ? 'at most once a minute' : 'more often');
  const groups = new Map<string, { fns: number; invokes: number; cold: [number, number]; gbh: [number, number] }>();
  const group = (f: number) => {
    const fn = trace.functions[f]!;
    const key = `${fn.pattern}, ${rateClass(fn.perDay)}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { fns: 0, invokes: 0, cold: [0, 0], gbh: [0, 0] }));
    return g;
  };
  trace.functions.forEach((fn, f) => {
    const g = group(f);
    g.fns++;
    g.cold[0] += fixed.coldByFn[f]!;
    g.cold[1] += histogram.coldByFn[f]!;
    g.gbh[0] += (fixed.mbMsByFn.get(fn.name) ?? 0) / 1024 / 3_600_000;
    g.gbh[1] += (histogram.mbMsByFn.get(fn.name) ?? 0) / 1024 / 3_600_000;
  });
  for (const inv of trace.invocations) group(inv.fn).invokes++;
  return [...groups].sort(([a], [b]) => a.localeCompare(b)).map(([key, g]) => [
    key, String(g.fns), g.invokes.toLocaleString('en'), `${g.cold[0]} → ${g.cold[1]}`, `${g.gbh[0].toFixed(0)} → ${g.gbh[1].toFixed(0)}`,
  ]);
}

export const keepAlive: Scenario = {
  id: 'keep-alive',
  title: '14. Keep-alive that adapts: fixed vs hybrid histogram on an Azure-shaped trace',
  standalone: true,
  async run(ctx) {
    const opts = { seed: SEED, functions: ctx.quick ? 150 : 300, days: ctx.quick ? 2 : 4, maxPerDay: 5000 };
    const trace = generateTrace(opts);
    log(`keep-alive: ${trace.functions.length} functions, ${trace.invocations.length} invocations over ${opts.days} simulated days`);
    const histogramConfig = keepAliveSchema.parse({ policy: 'histogram' });
    const runs: [string, () => KeepAlivePolicy][] = [
      ...FIXED_MS.map((ms): [string, () => KeepAlivePolicy] => [`fixed ${ms / MIN} min`, () => new FixedKeepAlive(ms)]),
      [`histogram (4 h of 1-min bins, fallback ${BASELINE_MS / MIN} min)`, () => new HistogramKeepAlive(histogramConfig, BASELINE_MS)],
    ];
    const outcomes: Outcome[] = [];
    for (const [name, make] of runs) {
      const outcome = await replay(trace, name, make());
      log(`keep-alive: ${name}: ${outcome.cold} cold starts, ${outcome.gbHours.toFixed(1)} GB-h, replayed in ${(outcome.wallMs / 1000).toFixed(1)} s`);
      outcomes.push(outcome);
    }
    const baseline = outcomes[FIXED_MS.indexOf(BASELINE_MS)]!;
    const histogram = outcomes[outcomes.length - 1]!;
    const fewer = baseline.cold / Math.max(1, histogram.cold);
    const noneAlive = (o: Outcome) => o.cold - o.scaleOut;
    const fewerNoneAlive = noneAlive(baseline) / Math.max(1, noneAlive(histogram));
    const memoryRatio = histogram.gbHours / baseline.gbHours;
    const memory = `memory-time ${x(memoryRatio)} (${histogram.gbHours.toFixed(1)} vs ${baseline.gbHours.toFixed(1)} GB-h)`;
    const byPattern = (p: Pattern) => trace.functions.filter((f) => f.pattern === p).length;
    const rates = trace.functions.map((f) => f.perDay).sort((a, b) => a - b);
    const share = (limit: number) => pct(rates.filter((r) => r <= limit).length, rates.length);
    return {
      method: [
        `A synthetic trace from seed ${SEED} (bench/scenarios/keep-alive-workload.ts), shaped like the Azure Functions 2019 trace: ${trace.functions.length} functions over ${opts.days} simulated days, ${trace.invocations.length.toLocaleString('en')} invocations.`,
        `Daily rates log-normal (log10 ~ N(1.55, 1.83), cut to 0.5–${opts.maxPerDay.toLocaleString('en')}/day): ${share(24)} of functions invoked at most hourly, ${share(1440)} at most once a minute.`,
        `Patterns: ${byPattern('timer')} timers (periods 1 min to 1 day, up to 2 s late), ${byPattern('poisson')} Poisson and ${byPattern('bursty')} bursty (bursts of ~12 invokes ~4 s apart), the last two with a ±80% diurnal swing; execution times log-normal around 0.8 s; 128–1024 MB.`,
        'Each policy replays the same trace on a manual clock through the real AssignmentService (the code `stratus up` runs: idle pool, sweep every 5 simulated seconds, pre-warms through its boot path). The workers are fakes (test/helpers/fake-worker.ts) with room for everything: the question is the policy\'s decisions, not sandbox speed.',
        'Cold start: an acquire that had to create an environment; "none alive" when the function had no environment at all (the paper\'s cold start: it models one instance per application), "scale-out" when its others were all busy. Memory-time: environment lifetime (creation to destruction, busy and idle, pre-warmed ones included) × its memory size, in GB-hours.',
        'The simulation is deterministic, so each policy runs once (no rounds).',
      ],
      tables: [{
        title: 'Per policy',
        rows: [],
        plain: {
          header: ['Policy', 'Cold starts', '% of invokes', 'none alive / scale-out', 'timer / Poisson / bursty', 'Memory-time (GB-h)', 'vs fixed 10 min (cold, memory)'],
          cells: outcomes.map((o) => [
            o.policy, o.cold.toLocaleString('en'), pct(o.cold, o.invocations), `${o.cold - o.scaleOut} / ${o.scaleOut}`,
            `${o.coldByPattern.timer} / ${o.coldByPattern.poisson} / ${o.coldByPattern.bursty}`,
            o.gbHours.toFixed(1), `${x(o.cold / Math.max(1, baseline.cold))}, ${x(o.gbHours / baseline.gbHours)}`,
          ]),
        },
      }, {
        title: `Fixed ${BASELINE_MS / MIN} min → histogram, by pattern and rate`,
        rows: [],
        plain: { header: ['Functions', 'Count', 'Invokes', 'Cold starts', 'Memory-time (GB-h)'], cells: breakdown(trace, baseline, histogram) },
      }],
      checks: [
        check(
          'keep-alive', `histogram: ≥ 2x fewer cold starts than fixed ${BASELINE_MS / MIN} min at equal or lower memory-time (every cold start)`,
          `${x(fewer)} fewer (${histogram.cold} vs ${baseline.cold}), ${memory}`, fewer >= 2 && memoryRatio <= 1,
        ),
        check(
          'keep-alive', 'the same, counting cold starts as the paper does: the function had no environment alive (not scale-out)',
          `${x(fewerNoneAlive)} fewer (${noneAlive(histogram)} vs ${noneAlive(baseline)}), ${memory}`, fewerNoneAlive >= 2 && memoryRatio <= 1,
        ),
      ],
      notes: [
        `Histograms at the end: ${histogram.footprint?.functions ?? 0} functions, ${((histogram.footprint?.histogramBytes ?? 0) / 1024).toFixed(0)} KiB of bins (bounded: at most 10,000 functions, 1,000 per account, 608 bytes each).`,
        `Replay time per policy: ${outcomes.map((o) => `${(o.wallMs / 1000).toFixed(1)} s`).join(', ')}.`,
      ],
    };
  },
};
