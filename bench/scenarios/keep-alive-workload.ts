/**
 * A synthetic invocation trace shaped like the published Azure Functions 2019 trace (Shahrad et
 * al., ATC'20, §3): per-function daily rates log-normal over ~5 orders of magnitude (about 45% of
 * functions invoked at most hourly, about 80% at most once a minute), arrival patterns that are
 * timer-like (periodic), Poisson or bursty, a diurnal swing on the non-timer ones, execution times
 * log-normal around ~1 s, and memory sizes mostly small. Generated from a fixed seed.
 */

export type Pattern = 'timer' | 'poisson' | 'bursty';

export interface TraceFunction {
  name: string;
  pattern: Pattern;
  /** Mean invocations per day. */
  perDay: number;
  memoryMb: number;
}

export interface Invocation {
  atMs: number;
  fn: number;
  durationMs: number;
}

export interface Trace {
  functions: TraceFunction[];
  /** Sorted by arrival. */
  invocations: Invocation[];
  durationMs: number;
}

export interface TraceOptions {
  seed: number;
  functions: number;
  days: number;
  /** The busiest function's mean daily rate (the tail is cut here to keep the replay short). */
  maxPerDay: number;
}

const DAY = 24 * 3600 * 1000;
const MIN = 60_000;
/** Timer periods (minutes): the CRON schedules users pick. */
const PERIODS = [1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 720, 1440];
/** Share of functions per pattern: timers are ~30% of the trace's triggers, the rest HTTP, queues, events. */
const PATTERNS: [Pattern, number][] = [['timer', 0.3], ['poisson', 0.5], ['bursty', 0.2]];
const MEMORY: [number, number][] = [[128, 0.4], [256, 0.3], [512, 0.2], [1024, 0.1]];
/** Diurnal swing of the rate (± this fraction around the mean), peaking mid-day. */
const DIURNAL = 0.8;
/** Invocations per burst, on average, and the mean gap within a burst. */
const BURST = 12;
const BURST_GAP_MS = 4000;

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateTrace(opts: TraceOptions): Trace {
  const rand = prng(opts.seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const pick = <T>(table: [T, number][]): T => {
    let r = rand();
    for (const [v, p] of table) if ((r -= p) < 0) return v;
    return (table[table.length - 1] as [T, number])[0];
  };
  const exp = (meanMs: number) => -Math.log(1 - rand()) * meanMs;
  const durationMs = opts.days * DAY;
  const functions: TraceFunction[] = [];
  const invocations: Invocation[] = [];
  for (let f = 0; f < opts.functions; f++) {
    // log10 of the daily rate ~ N(1.55, 1.83): P(<= 24/day) ~ 0.45, P(<= 1440/day) ~ 0.81.
    const perDay = Math.min(opts.maxPerDay, Math.max(0.5, 10 ** (1.55 + 1.83 * normal())));
    const pattern = pick(PATTERNS);
    const memoryMb = pick(MEMORY);
    const medianMs = Math.min(60_000, Math.max(10, Math.exp(Math.log(800) + 1.2 * normal())));
    functions.push({ name: `fn-${String(f).padStart(4, '0')}`, pattern, perDay, memoryMb });
    const add = (atMs: number) => {
      if (atMs < durationMs) invocations.push({ atMs, fn: f, durationMs: Math.round(Math.min(300_000, medianMs * Math.exp(0.3 * normal()))) });
    };
    const phase = rand() * DAY;
    /** Arrivals of a Poisson process of `perDay`, thinned by the diurnal swing. */
    const diurnalPoisson = (ratePerDay: number, each: (atMs: number) => void) => {
      const meanGap = DAY / (ratePerDay * (1 + DIURNAL));
      for (let t = exp(meanGap); t < durationMs; t += exp(meanGap)) {
        const level = (1 + DIURNAL * Math.sin((2 * Math.PI * (t + phase)) / DAY)) / (1 + DIURNAL);
        if (rand() < level) each(t);
      }
    };
    if (pattern === 'timer') {
      const wanted = DAY / perDay / MIN;
      const period = (PERIODS.reduce((best, p) => (Math.abs(Math.log(p / wanted)) < Math.abs(Math.log(best / wanted)) ? p : best), 1)) * MIN;
      // A timer fires on its schedule; the invocation starts a little after (queueing, clock skew).
      for (let t = rand() * period; t < durationMs; t += period) add(t + rand() * 2000);
    } else if (pattern === 'poisson') {
      diurnalPoisson(perDay, add);
    } else {
      diurnalPoisson(perDay / BURST, (start) => {
        for (let t = start, n = Math.ceil(exp(BURST)); n > 0; n--, t += exp(BURST_GAP_MS)) add(t);
      });
    }
  }
  invocations.sort((a, b) => a.atMs - b.atMs);
  return { functions, invocations, durationMs };
}
