import type { FunctionVersion } from '../registry/index.js';
import type { KeepAliveConfig } from '../shared/config.js';
import type { EnvironmentEntry } from './environments.js';
import type { KeepAlivePolicy, KeepAliveWindow, Prewarm } from './keep-alive.js';

/** A bin count that reaches this halves every bin of its histogram (old idle times weigh less). */
const BIN_MAX = 0xffff;
/** Idle environments (real or already unloaded) remembered per key: the deepest concurrency learnt. */
const IDLE_TRACKED = 16;

/** What is learnt of one environment key: its idle times, and when its last invoke ended. */
interface Pattern {
  fn: FunctionVersion;
  key: string;
  /** Idle times per bin of `binMs` (bounded: `bins` 16-bit counts). */
  counts: Uint16Array;
  /** Idle times within range (the sum of `counts`) and beyond it. */
  inRange: number;
  outOfRange: number;
  /** The sum of the squared bin counts (for their coefficient of variation without a scan). */
  squares: number;
  /**
   * When each environment of the key went idle, most recent last, as if none were ever reclaimed:
   * an arrival takes the most recent (as the idle pool hands out the most recently used), and its
   * idle time is what that environment's would have been. With one invoke at a time, this is the
   * paper's idle time between the end of one invoke and the next arrival.
   */
  idleSince: number[];
  /** Invokes of the key running now (arrived, not yet ended). */
  running: number;
  /** The window its histogram gives now (dropped when an idle time is recorded). */
  window: KeepAliveWindow | undefined;
}

/**
 * The hybrid histogram keep-alive of Shahrad et al., "Serverless in the Wild" (USENIX ATC'20),
 * per environment key (a function version's revision). Each arrival records the idle time since
 * the previous invoke ended (per environment, for functions with invokes that overlap). When the histogram is representative the window is
 * [head × (1 − margin), tail × (1 + margin)]: the environment is unloaded when the invoke ends
 * and a new one pre-warmed at the window's start (if the start is 0, the environment is just kept
 * to the window's end). Otherwise: the fixed keep-alive (where the paper predicts with ARIMA).
 *
 * Memory is bounded: `bins` 16-bit counts per key; at most `maxFunctions` keys, and
 * `maxFunctionsPerAccount` of one account (so one tenant's many functions cannot push out the
 * others'); beyond, the least recently invoked key of the account (or of all) is forgotten.
 */
export class HistogramKeepAlive implements KeepAlivePolicy {
  readonly name = 'histogram';
  /** Every tracked key, least recently invoked first (a Map keeps insertion order). */
  private readonly patterns = new Map<string, Pattern>();
  /** The same patterns per account, least recently invoked first. */
  private readonly byAccount = new Map<string, Map<string, Pattern>>();
  /** Pre-warms scheduled, per key: at most one per tracked key. */
  private readonly pending = new Map<string, { atMs: number; keepAliveMs: number }>();
  private readonly fallback: KeepAliveWindow;

  constructor(private readonly config: KeepAliveConfig, fallbackKeepAliveMs: number) {
    this.fallback = { prewarmMs: 0, keepAliveMs: fallbackKeepAliveMs };
  }

  arrived(fn: FunctionVersion, key: string, nowMs: number): void {
    this.pending.delete(key);
    const pattern = this.touch(fn, key);
    pattern.running++;
    const since = pattern.idleSince.pop();
    if (since !== undefined) this.record(pattern, Math.max(0, nowMs - since));
  }

  abandoned(key: string): void {
    const pattern = this.patterns.get(key);
    if (pattern) pattern.running = Math.max(0, pattern.running - 1);
  }

  ended(env: Pick<EnvironmentEntry, 'key' | 'provisioned'>, nowMs: number): KeepAliveWindow {
    const pattern = this.patterns.get(env.key);
    if (!pattern) return this.fallback;
    pattern.idleSince.push(nowMs);
    if (pattern.idleSince.length > IDLE_TRACKED) pattern.idleSince.shift();
    pattern.running = Math.max(0, pattern.running - 1);
    // Provisioned: kept whatever the window. Others of the key still running: this one is one the
    // function scaled out to, kept as the fixed policy keeps it (the histogram predicts the next
    // arrival after the function's last invoke ends, which the one ending last will serve).
    if (env.provisioned || pattern.running > 0) return this.fallback;
    const window = (pattern.window ??= this.windowOf(pattern));
    if (window.prewarmMs > 0) this.pending.set(env.key, { atMs: nowMs + window.prewarmMs, keepAliveMs: window.keepAliveMs });
    return window;
  }

  duePrewarms(nowMs: number): Prewarm[] {
    const due: Prewarm[] = [];
    for (const [key, p] of this.pending) {
      if (p.atMs > nowMs) continue;
      this.pending.delete(key);
      const pattern = this.patterns.get(key);
      if (pattern) due.push({ fn: pattern.fn, key, keepAliveMs: p.keepAliveMs });
    }
    return due;
  }

  retire(functionArn: string, version: string | undefined, current: string | undefined): void {
    for (const pattern of [...this.patterns.values()]) {
      if (pattern.key !== current && pattern.fn.functionArn === functionArn && (version === undefined || pattern.fn.version === version)) this.forget(pattern);
    }
  }

  clear(): void {
    this.patterns.clear();
    this.byAccount.clear();
    this.pending.clear();
  }

  /** The window the histogram of `key` gives now (the fallback if it is not representative or unknown). */
  windowFor(key: string): KeepAliveWindow {
    const pattern = this.patterns.get(key);
    return pattern ? (pattern.window ??= this.windowOf(pattern)) : this.fallback;
  }

  /** Keys tracked, and the bytes their histograms hold (for bounds and tests). */
  footprint(): { functions: number; accounts: number; pending: number; histogramBytes: number } {
    let histogramBytes = 0;
    for (const p of this.patterns.values()) histogramBytes += p.counts.byteLength + 8 * IDLE_TRACKED;
    return { functions: this.patterns.size, accounts: this.byAccount.size, pending: this.pending.size, histogramBytes };
  }

  /** The pattern of `key`, now the most recently invoked; a new one may push out the least recent. */
  private touch(fn: FunctionVersion, key: string): Pattern {
    const account = this.accountPatterns(fn.accountId);
    let pattern = this.patterns.get(key);
    if (pattern) {
      this.patterns.delete(key);
      account.delete(key);
      pattern.fn = fn;
    } else {
      if (account.size >= this.config.maxFunctionsPerAccount) this.forgetFirst(account);
      else if (this.patterns.size >= this.config.maxFunctions) this.forgetFirst(this.patterns);
      pattern = { fn, key, counts: new Uint16Array(this.config.bins), inRange: 0, outOfRange: 0, squares: 0, idleSince: [], running: 0, window: undefined };
    }
    this.patterns.set(key, pattern);
    account.set(key, pattern);
    return pattern;
  }

  private accountPatterns(accountId: string): Map<string, Pattern> {
    let account = this.byAccount.get(accountId);
    if (!account) this.byAccount.set(accountId, (account = new Map()));
    return account;
  }

  private forgetFirst(patterns: Map<string, Pattern>): void {
    const first = patterns.values().next();
    if (!first.done) this.forget(first.value);
  }

  private forget(pattern: Pattern): void {
    this.patterns.delete(pattern.key);
    this.pending.delete(pattern.key);
    const account = this.byAccount.get(pattern.fn.accountId);
    account?.delete(pattern.key);
    if (account?.size === 0) this.byAccount.delete(pattern.fn.accountId);
  }

  private record(pattern: Pattern, idleMs: number): void {
    pattern.window = undefined;
    const bin = Math.floor(idleMs / this.config.binMs);
    if (bin >= pattern.counts.length) {
      pattern.outOfRange++;
      return;
    }
    if (pattern.counts[bin] === BIN_MAX) halve(pattern);
    const count = pattern.counts[bin] ?? 0;
    pattern.counts[bin] = count + 1;
    pattern.inRange++;
    pattern.squares += 2 * count + 1;
  }

  private windowOf(pattern: Pattern): KeepAliveWindow {
    const { binMs, minSamples, minCv, headPercentile, tailPercentile, marginPercent } = this.config;
    // n idle times scattered over B bins give a CV of about sqrt(B / n) by themselves: with few
    // samples, the CV must also stand well above that (minCv times it) to show a real cluster.
    const scatteredCv = Math.sqrt(Math.max(1, pattern.counts.length / pattern.inRange));
    if (pattern.inRange < minSamples || variation(pattern) < minCv * scatteredCv) return this.fallback;
    const total = pattern.inRange + pattern.outOfRange;
    const tailBin = percentileBin(pattern.counts, total, tailPercentile);
    // The tail beyond the histogram's range: out-of-range idle times are too many to predict from it.
    if (tailBin >= pattern.counts.length) return this.fallback;
    const margin = marginPercent / 100;
    const prewarmMs = Math.round(percentileBin(pattern.counts, total, headPercentile) * binMs * (1 - margin));
    const endMs = Math.round((tailBin + 1) * binMs * (1 + margin));
    return { prewarmMs, keepAliveMs: endMs - prewarmMs };
  }
}

/** The bin holding the `percent` percentile of `total` idle times (counts.length: beyond range). */
function percentileBin(counts: Uint16Array, total: number, percent: number): number {
  const want = Math.max(1, Math.ceil((total * percent) / 100));
  let seen = 0;
  for (let bin = 0; bin < counts.length; bin++) {
    seen += counts[bin] ?? 0;
    if (seen >= want) return bin;
  }
  return counts.length;
}

/** The coefficient of variation of the bin counts: high when idle times cluster in few bins. */
function variation(pattern: Pattern): number {
  const mean = pattern.inRange / pattern.counts.length;
  if (mean === 0) return 0;
  return Math.sqrt(Math.max(0, pattern.squares / pattern.counts.length - mean * mean)) / mean;
}

function halve(pattern: Pattern): void {
  let sum = 0;
  let squares = 0;
  for (let bin = 0; bin < pattern.counts.length; bin++) {
    const count = (pattern.counts[bin] = (pattern.counts[bin] ?? 0) >> 1);
    sum += count;
    squares += count * count;
  }
  pattern.inRange = sum;
  pattern.squares = squares;
  pattern.outOfRange >>= 1;
}
