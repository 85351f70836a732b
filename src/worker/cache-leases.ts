import type { Clock, TimerHandle } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';

/**
 * What one environment (or one piece of in-flight work: a snapshot being made, a stem being
 * filled, a layer set over its layers) holds in the worker's caches. Everything it holds is
 * released together; a hold taken after that (a build that finished after the environment was
 * destroyed) is released at once.
 */
export class Leases {
  private readonly held = new Set<() => void>();
  private closed = false;

  hold(release: () => void): void {
    if (this.closed) release();
    else this.held.add(release);
  }

  releaseAll(): void {
    this.closed = true;
    for (const release of this.held) release();
    this.held.clear();
  }
}

export interface CacheLimits {
  /** An entry no lease has held for this long is removed. */
  idleMs: number;
  /** Beyond this many bytes (all caches together), unused entries are removed, least recently used first. */
  maxBytes: number;
}

export type EvictionReason = 'idle' | 'budget';

/** One cache's entries and what it has evicted, for metrics. */
export interface CacheStats {
  entries: number;
  inUse: number;
  bytes: number;
  evicted: Record<EvictionReason, number>;
  evictedBytes: number;
}

interface Entry {
  readonly cache: LeasedEntries<unknown>;
  readonly key: string;
  refs: number;
  lastUsedMs: number;
  bytes: number;
  /** Built (or being built); absent: found on disk, built on its first use. */
  value?: Promise<unknown>;
  /** Being removed: a use waits for it to end, then builds again. */
  removing?: Promise<void>;
  idle?: TimerHandle;
}

/**
 * The worker's caches of built things (code images and their mounts, layer sets, image mounts,
 * unpacked snapshots) under one budget and one idle time. Each entry counts the leases on it;
 * an entry with none is removed once idle for `idleMs`, or earlier, least recently used first,
 * while the caches hold more than `maxBytes`. An entry held, or being built (its builder holds
 * it from the start), is never removed; a use of an entry being removed waits for the removal,
 * then builds it again.
 */
export class CacheLeases {
  private readonly entries = new Map<string, Entry>();
  private readonly caches = new Map<string, LeasedEntries<unknown>>();
  private bytes = 0;
  private closed = false;

  /** `admitWrite`: the data disk of `stratus up`, which refuses new cache files while it is full, so they never eat the room kept for deletes. */
  constructor(private readonly clock: Clock, private readonly limits: CacheLimits, private readonly log?: Logger, private readonly admit?: () => Promise<void>) {}

  /** Resolves if a cache may write a new entry's files now; rejects (DiskFull) while the data disk is full. */
  async admitWrite(): Promise<void> {
    await this.admit?.();
  }

  /** A cache named `name` (its entries' keys are its own); `remove` unmounts an entry and deletes its files. */
  cache<T>(name: string, remove: (key: string) => Promise<void>): LeasedEntries<T> {
    if (this.caches.has(name)) throw new Error(`cache ${name} exists`);
    const cache = new LeasedEntries<T>(name, this, remove);
    this.caches.set(name, cache as LeasedEntries<unknown>);
    return cache;
  }

  stats(): Map<string, CacheStats> {
    const out = new Map<string, CacheStats>();
    for (const [name, cache] of this.caches) out.set(name, { entries: 0, inUse: 0, bytes: 0, ...cache.counters, evicted: { ...cache.counters.evicted } });
    for (const e of this.entries.values()) {
      const s = out.get(e.cache.name);
      if (!s) continue;
      s.entries++;
      s.bytes += e.bytes;
      if (e.refs > 0) s.inUse++;
    }
    return out;
  }

  /** Stops removing anything (the worker is shutting down and unmounts everything itself). */
  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) e.idle?.cancel();
  }

  /** `LeasedEntries.use`, for the entry `key` of `cache`. */
  async use<T>(cache: LeasedEntries<T>, key: string, leases: Leases, build: () => Promise<{ value: T; bytes: number }>): Promise<T> {
    const e = await this.acquire(cache as LeasedEntries<unknown>, key);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.release(e);
    };
    try {
      if (!e.value) {
        const building = build().then(({ value, bytes }) => {
          this.sized(e, bytes);
          return value;
        });
        e.value = building;
        building.catch(() => {
          if (e.value === building) delete e.value;
        });
      }
      const value = (await e.value) as T;
      leases.hold(release);
      return value;
    } catch (err) {
      release();
      throw err;
    }
  }

  /** The entry of `key` in `cache`, held once more; waits out a removal in progress. */
  private async acquire(cache: LeasedEntries<unknown>, key: string): Promise<Entry> {
    const id = `${cache.name}\0${key}`;
    for (;;) {
      const found = this.entries.get(id);
      if (found?.removing) {
        await found.removing;
        continue;
      }
      const e = found ?? { cache, key, refs: 0, lastUsedMs: this.clock.now(), bytes: 0 };
      this.entries.set(id, e);
      e.refs++;
      e.idle?.cancel();
      e.idle = undefined;
      return e;
    }
  }

  /** One lease on `e` ended. */
  private release(e: Entry): void {
    e.refs--;
    if (e.refs > 0) return;
    e.lastUsedMs = this.clock.now();
    this.scheduleIdle(e);
    // Over budget already: what just became unused may be the only thing that can go.
    this.overBudget();
  }

  /** The entry's size on disk is now `bytes`. */
  private sized(e: Entry, bytes: number): void {
    if (e.removing) return;
    this.bytes += bytes - e.bytes;
    e.bytes = bytes;
    this.overBudget();
  }

  /** `LeasedEntries.adopt`: an entry found on disk or made outside a use, unused, removed when idle (or over budget). */
  adopt<T>(cache: LeasedEntries<T>, key: string, bytes: number): void {
    const id = `${cache.name}\0${key}`;
    const e = this.entries.get(id) ?? { cache: cache as LeasedEntries<unknown>, key, refs: 0, lastUsedMs: this.clock.now(), bytes: 0 };
    this.entries.set(id, e);
    if (e.refs === 0 && !e.idle && !e.removing) this.scheduleIdle(e);
    this.sized(e, bytes);
  }

  /** `LeasedEntries.keys`. */
  keys<T>(cache: LeasedEntries<T>): string[] {
    return [...this.entries.values()].filter((e) => e.cache === (cache as LeasedEntries<unknown>) && !e.removing).map((e) => e.key);
  }

  private scheduleIdle(e: Entry): void {
    if (this.closed) return;
    e.idle?.cancel();
    e.idle = this.clock.setTimer(this.limits.idleMs, () => void this.evict(e, 'idle'));
  }

  private overBudget(): void {
    if (this.bytes <= this.limits.maxBytes) return;
    const unused = [...this.entries.values()].filter((e) => e.refs === 0 && !e.removing).sort((a, b) => a.lastUsedMs - b.lastUsedMs);
    for (const e of unused) {
      if (this.bytes <= this.limits.maxBytes) return;
      void this.evict(e, 'budget');
    }
  }

  /** Removes an unused entry (its bytes leave the budget at once, so a pass over budget removes no more than needed). */
  private evict(e: Entry, reason: EvictionReason): Promise<void> {
    if (this.closed || e.refs > 0 || e.removing) return e.removing ?? Promise.resolve();
    e.idle?.cancel();
    e.idle = undefined;
    this.bytes -= e.bytes;
    const { counters } = e.cache;
    counters.evicted[reason]++;
    counters.evictedBytes += e.bytes;
    e.removing = (async () => {
      try {
        await e.value?.catch(() => {});
        await e.cache.remove(e.key);
      } catch (err) {
        this.log?.warn({ err, cache: e.cache.name, key: e.key }, 'a worker cache entry could not be removed');
      } finally {
        this.entries.delete(`${e.cache.name}\0${e.key}`);
      }
    })();
    return e.removing;
  }
}

/** One cache of `CacheLeases`: its entries built once per key and held by leases. */
export class LeasedEntries<T> {
  readonly counters = { evicted: { idle: 0, budget: 0 } as Record<EvictionReason, number>, evictedBytes: 0 };

  constructor(readonly name: string, private readonly all: CacheLeases, readonly remove: (key: string) => Promise<void>) {}

  /**
   * The entry `key`, built by `build` unless it is built already (or being built), held by
   * `leases` until they are released. A build that fails is forgotten (the next use builds again).
   */
  use(key: string, leases: Leases, build: () => Promise<{ value: T; bytes: number }>): Promise<T> {
    return this.all.use(this, key, leases, build);
  }

  /** An entry found on disk (a previous run's) or made outside `use`: unused until used. */
  adopt(key: string, bytes: number): void {
    this.all.adopt(this, key, bytes);
  }

  /** The keys of the entries kept (held or not), removals in progress apart. */
  keys(): string[] {
    return this.all.keys(this);
  }
}
