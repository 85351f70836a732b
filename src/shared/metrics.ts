import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Stratus's Prometheus metrics. Each process has its own `Metrics` (its own prom-client
 * `Registry`, never the global one) and hands it to the components it runs; each serves it on
 * its own metrics listener (metrics-server.ts). Components record events here (a counter and a
 * histogram per invoke at most); state such as environments by state is read on each scrape
 * through `gauge` callbacks instead of being kept up to date on the hot path.
 *
 * Labels are bounded by what exists: an account id, a function's name, a version and an alias
 * that resolved, a worker's id, and small fixed sets (kinds, states, reasons). Never request ids
 * or anything a caller typed that did not resolve.
 */

/** Who an invocation ran for: the account, the function, the version it executed (and the alias invoked). */
export interface FunctionLabels {
  account: string;
  function: string;
  version: string;
  /** The alias the invoke named (absent: a version or $LATEST was invoked). */
  alias?: string;
}

/** How an environment's init came about (the REPORT line's Init Duration, Restore Duration or Init Source). */
export type ColdStartKind = 'boot' | 'warm-pool' | 'provisioned' | 'snapstart' | 'image';

/** Why an Event invoke was given up. */
export type AsyncDropReason = 'EventAgeExceeded' | 'RetriesExhausted' | 'FunctionDeleted';

/** A scrape-time reading: label values and the value. */
export type Reading = readonly [Record<string, string>, number];

const FN_LABELS = ['account', 'function', 'version', 'alias'] as const;
const ASYNC_LABELS = ['account', 'function'] as const;
/** Lambda's durations run from milliseconds to 15 minutes. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
const INIT_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const AGE_BUCKETS = [0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 21_600];

export class Metrics {
  readonly registry = new Registry();
  private readonly invocations: Counter<string>;
  private readonly errors: Counter<string>;
  private readonly throttles: Counter<string>;
  private readonly duration: Histogram<string>;
  private readonly coldStarts: Counter<string>;
  private readonly initDuration: Histogram<string>;
  private readonly asyncQueued: Counter<string>;
  private readonly asyncAge: Histogram<string>;
  private readonly asyncDropped: Counter<string>;
  /**
   * The (version, alias, kind) label sets recorded per function (`<account>/<name>`), so that a
   * deleted function's series can be removed: a tenant that creates and deletes functions in a
   * loop must not grow this process's memory without bound.
   */
  private readonly recorded = new Map<string, Set<string>>();

  constructor() {
    const registers = [this.registry];
    const fn = { labelNames: FN_LABELS, registers };
    this.invocations = new Counter({ name: 'stratus_invocations_total', help: 'Invocations that ran (function errors included, throttles not)', ...fn });
    this.errors = new Counter({ name: 'stratus_invocation_errors_total', help: 'Invocations that ended in a function error or a platform failure', ...fn });
    this.throttles = new Counter({ name: 'stratus_throttles_total', help: 'Invoke requests refused with 429 TooManyRequestsException', ...fn });
    this.duration = new Histogram({ name: 'stratus_invocation_duration_seconds', help: "Invocations' Duration (as in their REPORT line)", buckets: DURATION_BUCKETS, ...fn });
    const cold = { labelNames: ['account', 'function', 'version', 'kind'], registers };
    this.coldStarts = new Counter({ name: 'stratus_cold_starts_total', help: 'Environments whose init completed, by kind (boot, warm-pool, provisioned, snapstart, image)', ...cold });
    this.initDuration = new Histogram({ name: 'stratus_init_duration_seconds', help: 'Init (or SnapStart restore) duration of environments, by kind', buckets: INIT_BUCKETS, ...cold });
    const events = { labelNames: ASYNC_LABELS, registers };
    this.asyncQueued = new Counter({ name: 'stratus_async_events_queued_total', help: 'Event invokes accepted into the durable queue', ...events });
    this.asyncAge = new Histogram({ name: 'stratus_async_event_age_seconds', help: "An Event invoke's age when an attempt to run it starts", buckets: AGE_BUCKETS, ...events });
    this.asyncDropped = new Counter({
      name: 'stratus_async_events_dropped_total', help: 'Event invokes given up (EventAgeExceeded, RetriesExhausted, FunctionDeleted)',
      labelNames: [...ASYNC_LABELS, 'reason'], registers,
    });
  }

  /** An invocation ran to an outcome (`error`: a function error or a platform failure). */
  invocation(fn: FunctionLabels, error: boolean, durationMs: number | undefined): void {
    this.note(fn.account, fn.function, fn.version, fn.alias);
    const labels = labelsOf(fn);
    this.invocations.inc(labels);
    if (error) this.errors.inc(labels);
    if (durationMs !== undefined) this.duration.observe(labels, durationMs / 1000);
  }

  throttle(fn: FunctionLabels): void {
    this.note(fn.account, fn.function, fn.version, fn.alias);
    this.throttles.inc(labelsOf(fn));
  }

  /** An environment's init completed. */
  coldStart(fn: Omit<FunctionLabels, 'alias'>, kind: ColdStartKind, initMs: number): void {
    this.note(fn.account, fn.function, fn.version, undefined, kind);
    const labels = { account: fn.account, function: fn.function, version: fn.version, kind };
    this.coldStarts.inc(labels);
    this.initDuration.observe(labels, initMs / 1000);
  }

  asyncQueuedEvent(account: string, fn: string): void {
    this.note(account, fn);
    this.asyncQueued.inc({ account, function: fn });
  }

  asyncAttempt(account: string, fn: string, ageMs: number): void {
    this.asyncAge.observe({ account, function: fn }, Math.max(0, ageMs) / 1000);
  }

  asyncDroppedEvent(account: string, fn: string, reason: AsyncDropReason): void {
    this.asyncDropped.inc({ account, function: fn, reason });
  }

  /** Removes every series of a function that is gone (deleted): its counters end with it. */
  forgetFunction(account: string, fn: string): void {
    const key = `${account}/${fn}`;
    for (const entry of this.recorded.get(key) ?? []) {
      const [version = '', alias = '', kind = ''] = entry.split('\n');
      if (kind !== '') {
        const labels = { account, function: fn, version, kind };
        this.coldStarts.remove(labels);
        this.initDuration.remove(labels);
      } else if (version !== '') {
        const labels = labelsOf({ account, function: fn, version, ...(alias !== '' ? { alias } : {}) });
        for (const metric of [this.invocations, this.errors, this.throttles, this.duration]) metric.remove(labels);
      }
    }
    this.recorded.delete(key);
    this.asyncQueued.remove({ account, function: fn });
    this.asyncAge.remove({ account, function: fn });
    for (const reason of ['EventAgeExceeded', 'RetriesExhausted', 'FunctionDeleted']) this.asyncDropped.remove({ account, function: fn, reason });
  }

  private note(account: string, fn: string, version = '', alias = '', kind = ''): void {
    const key = `${account}/${fn}`;
    let sets = this.recorded.get(key);
    if (!sets) this.recorded.set(key, (sets = new Set()));
    sets.add(`${version}\n${alias}\n${kind}`);
  }

  /** A gauge whose series are read from `read` at each scrape (nothing is recorded in between). */
  gauge(name: string, help: string, labelNames: readonly string[], read: () => Iterable<Reading> | Promise<Iterable<Reading>>): void {
    new Gauge({
      name, help, labelNames, registers: [this.registry],
      async collect() {
        const readings = await read();
        this.reset();
        for (const [labels, value] of readings) this.set(labels, value);
      },
    });
  }

  /** A counter kept by a component (a running total it owns), read from `read` at each scrape. */
  counterReadOnScrape(name: string, help: string, labelNames: readonly string[], read: () => Iterable<Reading>): void {
    new Counter({
      name, help, labelNames, registers: [this.registry],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.inc(labels, value);
      },
    });
  }

  /** The exposition text of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function labelsOf(fn: FunctionLabels): Record<string, string> {
  return fn.alias === undefined
    ? { account: fn.account, function: fn.function, version: fn.version }
    : { account: fn.account, function: fn.function, version: fn.version, alias: fn.alias };
}
