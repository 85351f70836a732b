import type { EnvironmentEntry } from './environments.js';

/**
 * Idle (warm) environments per environment key. The most recently used one is handed out first,
 * so the others age towards the keep-alive and can be reclaimed.
 */
export class IdlePool {
  /** Environment ids per key, most recently used last. */
  private readonly byKey = new Map<string, string[]>();

  /** Takes the most recently used idle environment of `key`. */
  pop(key: string): string | undefined {
    return this.byKey.get(key)?.pop();
  }

  /** Whether `key` has an idle environment. */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** An environment went idle: it is now the most recently used of its key. */
  push(env: Pick<EnvironmentEntry, 'id' | 'key'>): void {
    const stack = this.byKey.get(env.key) ?? [];
    stack.push(env.id);
    this.byKey.set(env.key, stack);
  }

  /** An environment is gone (it may or may not be idle). */
  remove(env: Pick<EnvironmentEntry, 'id' | 'key'>): void {
    const stack = this.byKey.get(env.key);
    if (!stack) return;
    const rest = stack.filter((id) => id !== env.id);
    if (rest.length > 0) this.byKey.set(env.key, rest);
    else this.byKey.delete(env.key);
  }

  clear(): void {
    this.byKey.clear();
  }
}

/**
 * Memory pressure's victim: the idle environment (of any function) idle the longest.
 * Provisioned environments are never evicted.
 */
export function leastRecentlyUsedIdle(envs: Iterable<EnvironmentEntry>): EnvironmentEntry | undefined {
  let lru: EnvironmentEntry | undefined;
  for (const env of envs) {
    if (env.state.kind !== 'idle' || env.provisioned) continue;
    if (lru?.state.kind !== 'idle' || env.state.sinceMs < lru.state.sinceMs) lru = env;
  }
  return lru;
}
