import type { Clock, TimerHandle } from '../../shared/clock.js';
import type { Metrics } from '../../shared/metrics.js';

/** What the console charts per function: running totals of this process's counters. */
export interface Totals {
  invocations: number;
  errors: number;
  throttles: number;
  coldStarts: number;
}

/** One chart point: the counts in the interval that ends at `t` (ms). */
export interface ChartPoint extends Totals {
  t: number;
}

export interface ChartSamplerOptions {
  /** This process's counters (absent: nothing to chart). */
  metrics?: Metrics;
  clock: Clock;
  /** How often the counters are read (default 10 s). */
  intervalMs?: number;
  /** Samples kept per function (default 360: an hour at 10 s). */
  samples?: number;
}

const COUNTERS: Record<keyof Totals, string> = {
  invocations: 'stratus_invocations_total',
  errors: 'stratus_invocation_errors_total',
  throttles: 'stratus_throttles_total',
  coldStarts: 'stratus_cold_starts_total',
};

/**
 * Charts over time from the counters this process already keeps (nothing is counted twice):
 * every interval, on the injected clock, it reads each function's totals (all versions, aliases
 * and kinds summed) into a bounded ring per account and function. A function whose series are
 * gone (deleted: Metrics forgets them) loses its ring. In a cluster each frontend charts what it
 * served.
 */
export class ChartSampler {
  private readonly rings = new Map<string, { t: number; totals: Totals }[]>();
  private timer: TimerHandle | undefined;
  private readonly intervalMs: number;
  private readonly samples: number;

  constructor(private readonly opts: ChartSamplerOptions) {
    this.intervalMs = opts.intervalMs ?? 10_000;
    this.samples = opts.samples ?? 360;
  }

  start(): void {
    this.timer?.cancel();
    this.timer = this.opts.clock.setTimer(this.intervalMs, () => {
      void this.sample().finally(() => this.timer && this.start());
    });
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Reads the counters now and appends a sample per function. */
  async sample(): Promise<void> {
    const now = await this.totals();
    const t = this.opts.clock.now();
    for (const key of this.rings.keys()) if (!now.has(key)) this.rings.delete(key);
    for (const [key, totals] of now) {
      let ring = this.rings.get(key);
      if (!ring) this.rings.set(key, (ring = []));
      ring.push({ t, totals });
      if (ring.length > this.samples) ring.splice(0, ring.length - this.samples);
    }
  }

  /**
   * The function's points: the counts between consecutive samples, and a last point from the
   * last sample up to now (so what just happened shows at once).
   */
  async points(accountId: string, fn: string): Promise<ChartPoint[]> {
    const key = `${accountId}/${fn}`;
    const current = (await this.totals()).get(key);
    const ring = [...(this.rings.get(key) ?? [])];
    if (current) ring.push({ t: this.opts.clock.now(), totals: current });
    const points: ChartPoint[] = [];
    for (let i = 1; i < ring.length; i++) {
      const [before, after] = [ring[i - 1], ring[i]];
      if (before && after) points.push({ t: after.t, ...minus(after.totals, before.totals) });
    }
    // Until the ring is full its first sample counts from zero (the counters start with the process).
    const full = (this.rings.get(key)?.length ?? 0) >= this.samples;
    if (ring[0] && !full) points.unshift({ t: ring[0].t, ...ring[0].totals });
    return points;
  }

  private async totals(): Promise<Map<string, Totals>> {
    const out = new Map<string, Totals>();
    for (const [field, name] of Object.entries(COUNTERS) as [keyof Totals, string][]) {
      const metric = this.opts.metrics?.registry.getSingleMetric(name);
      if (!metric) continue;
      for (const { labels, value } of (await metric.get()).values) {
        const key = `${String(labels.account)}/${String(labels.function)}`;
        let totals = out.get(key);
        if (!totals) out.set(key, (totals = { invocations: 0, errors: 0, throttles: 0, coldStarts: 0 }));
        totals[field] += value;
      }
    }
    return out;
  }
}

function minus(a: Totals, b: Totals): Totals {
  // A counter that went down was reset (its series forgotten and begun again): count from zero.
  const d = (x: number, y: number) => (x >= y ? x - y : x);
  return { invocations: d(a.invocations, b.invocations), errors: d(a.errors, b.errors), throttles: d(a.throttles, b.throttles), coldStarts: d(a.coldStarts, b.coldStarts) };
}
