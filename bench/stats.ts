/** Order statistics for the benchmark report: percentiles, summaries and the spread over rounds. */

/** The p-th percentile (0..100) of `values`, interpolated linearly between closest ranks. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  if (p < 0 || p > 100) throw new RangeError(`percentile out of range: ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const low = sorted[lo] as number;
  const high = sorted[hi] as number;
  return low + (high - low) * (rank - lo);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** How much a per-round value moved between rounds. */
export interface Spread {
  min: number;
  max: number;
  /** (max - min) / median of the round values, in percent. */
  relPct: number;
}

export function spread(roundValues: readonly number[]): Spread {
  if (roundValues.length === 0) return { min: Number.NaN, max: Number.NaN, relPct: Number.NaN };
  const min = Math.min(...roundValues);
  const max = Math.max(...roundValues);
  const mid = median(roundValues);
  return { min, max, relPct: mid === 0 ? 0 : ((max - min) / Math.abs(mid)) * 100 };
}

export interface Summary {
  /** Number of samples pooled over all rounds. */
  n: number;
  rounds: number;
  median: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  /** The median of each round, in round order. */
  roundMedians: number[];
  /** Spread of the round medians. */
  spread: Spread;
}

/** Summarizes samples grouped by round: percentiles over the pooled samples, spread over rounds. */
export function summarize(rounds: readonly (readonly number[])[]): Summary {
  const nonEmpty = rounds.filter((r) => r.length > 0);
  const all = nonEmpty.flat();
  const roundMedians = nonEmpty.map((r) => median(r));
  return {
    n: all.length,
    rounds: nonEmpty.length,
    median: median(all),
    p90: percentile(all, 90),
    p99: percentile(all, 99),
    min: all.length ? Math.min(...all) : Number.NaN,
    max: all.length ? Math.max(...all) : Number.NaN,
    roundMedians,
    spread: spread(roundMedians),
  };
}

/**
 * For a load generator that reports percentiles per round (wrk) rather than raw samples: each
 * percentile is the median over rounds of that round's percentile; the spread is of the p50s.
 */
export function summarizeRoundPercentiles(rounds: readonly { p50: number; p90: number; p99: number; n: number }[]): Summary {
  const p50s = rounds.map((r) => r.p50);
  return {
    n: rounds.reduce((sum, r) => sum + r.n, 0),
    rounds: rounds.length,
    median: median(p50s),
    p90: median(rounds.map((r) => r.p90)),
    p99: median(rounds.map((r) => r.p99)),
    min: p50s.length ? Math.min(...p50s) : Number.NaN,
    max: rounds.length ? Math.max(...rounds.map((r) => r.p99)) : Number.NaN,
    roundMedians: p50s,
    spread: spread(p50s),
  };
}

/** a / b, or NaN when either is missing or b is zero. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : Number.NaN;
}
