/**
 * The fault-injection suite's seeded PRNG (mulberry32): the same seed gives the same operation
 * mix and the same kill delays, so a failing run can be replayed with STRATUS_FAULT_SEED.
 */
export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.next() * items.length)];
  }

  /** A key of `weights`, chosen in proportion to its weight (zero weights never). */
  weighted<K extends string>(weights: Record<K, number>): K | undefined {
    const entries = (Object.entries(weights) as [K, number][]).filter(([, w]) => w > 0);
    let r = this.next() * entries.reduce((sum, [, w]) => sum + w, 0);
    for (const [key, w] of entries) if ((r -= w) < 0) return key;
    return entries.at(-1)?.[0];
  }

  /** An independent generator for a sub-sequence (one per stream of operations). */
  fork(): Prng {
    return new Prng(Math.floor(this.next() * 4294967296));
  }
}

/** STRATUS_FAULT_SEED if set (decimal), else a fresh seed; the caller prints it. */
export function faultSeed(env: NodeJS.ProcessEnv = process.env): number {
  const given = env['STRATUS_FAULT_SEED'];
  if (given !== undefined && given !== '') {
    const n = Number(given);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`STRATUS_FAULT_SEED must be an integer in [0, 4294967295], not ${given}`);
    return n;
  }
  return Math.floor(Math.random() * 0xffffffff);
}
