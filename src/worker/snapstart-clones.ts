import type { CodeRef } from '../codestore/index.js';
import type { Clock, TimerHandle } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';
import type { Sandbox } from '../sandbox/index.js';
import type { Leases } from './cache-leases.js';
import type { EnvironmentSpec } from './environment-spec.js';
import { removeDir } from './slots.js';

/**
 * A clone restored ahead of its cold start and frozen: criu has rebuilt it (its own namespaces,
 * cgroups and control directory), but its init still holds the runtime's request for
 * `/restore/next`, so nothing after the snapshot has run yet (no reseeding, no after-restore hook).
 */
export interface PreRestored {
  controlDir: string;
  sandbox: Sandbox;
  /** The cache entries it uses (its snapshot, its code): the environment that takes it holds them on. */
  leases: Leases;
  memoryMb: number;
}

export interface SnapStartClonesDeps {
  /** Clones kept restored per version once it has been restored once (0: none). */
  perVersion: number;
  /** A version's clones are destroyed once none was taken for this long. */
  idleMs: number;
  /** At most this many versions keep clones; the least recently restored one gives way. */
  maxVersions: number;
  clock: Clock;
  log: Logger;
  /** Restores one paused clone of `spec` (SnapStartBoots.preRestore). */
  restore(spec: EnvironmentSpec, image: CodeRef): Promise<PreRestored>;
}

/** A version whose pre-restores failed this many times in a row gets no more until its next cold start. */
const MAX_FAILURES = 3;
const RETRY_MS = 1_000;

interface VersionClones {
  ready: PreRestored[];
  restoring: number;
  /** Pre-restores that failed in a row (retried a few times: a busy host can fail one). */
  failures: number;
  memoryMb: number;
  idle?: TimerHandle;
}

/**
 * Pre-restored SnapStart clones, the way the warm pool keeps booted runtimes: after a version's
 * clone is restored for a cold start, `perVersion` more are restored in the background and kept
 * frozen; the next cold start of exactly that spec takes one and only lets it go on (the
 * runtime then reseeds and runs the after-restore hooks, as after any restore). Each clone is
 * its own sandbox, made for one account's function version (the key is its whole spec), and is
 * handed out once. Clones count towards the worker's memory like environments.
 */
export class SnapStartClones {
  private readonly versions = new Map<string, VersionClones>();
  private closed = false;

  constructor(private readonly deps: SnapStartClonesDeps) {}

  /** A frozen clone of exactly `spec`, if one is ready (it leaves the pool for good). */
  take(spec: EnvironmentSpec): PreRestored | undefined {
    const entry = this.versions.get(keyOf(spec));
    return entry?.ready.shift();
  }

  /** Whether `spec`'s version keeps clones here (for tests and metrics). */
  ready(spec: EnvironmentSpec): number {
    return this.versions.get(keyOf(spec))?.ready.length ?? 0;
  }

  /** Keeps `perVersion` clones of `spec` restored (after a cold start of it); the version is the most recently used. */
  refill(spec: EnvironmentSpec, image: CodeRef): void {
    if (this.closed || this.deps.perVersion <= 0) return;
    const key = keyOf(spec);
    const entry = this.versions.get(key) ?? { ready: [], restoring: 0, failures: 0, memoryMb: spec.memoryMb };
    this.versions.delete(key);
    this.versions.set(key, entry);
    for (const [old] of this.versions) if (this.versions.size > this.deps.maxVersions) this.drop(old);
    entry.idle?.cancel();
    entry.idle = this.deps.clock.setTimer(this.deps.idleMs, () => this.drop(key));
    while (entry.ready.length + entry.restoring < this.deps.perVersion) {
      entry.restoring++;
      void this.deps.restore(spec, image).then(
        (clone) => {
          entry.restoring--;
          if (this.versions.get(key) !== entry) return destroyClone(clone);
          entry.failures = 0;
          entry.ready.push(clone);
          this.deps.log.debug({ fn: spec.functionName, version: spec.version, ready: entry.ready.length }, 'SnapStart: clone restored ahead');
          void clone.sandbox.exited.then(() => {
            const at = entry.ready.indexOf(clone);
            if (at >= 0) void destroyClone(entry.ready.splice(at, 1)[0]);
          });
        },
        (err: unknown) => {
          entry.restoring--;
          entry.failures++;
          this.deps.log.warn({ err, fn: spec.functionName, version: spec.version, failures: entry.failures }, 'SnapStart: a clone could not be restored ahead');
          if (entry.failures >= MAX_FAILURES) return;
          this.deps.clock.setTimer(RETRY_MS * entry.failures, () => {
            if (this.versions.get(key) === entry) this.refill(spec, image);
          });
        },
      );
    }
  }

  /** Memory of the clones restored or being restored (reserved like environments'). */
  reservedMb(): number {
    let mb = 0;
    for (const entry of this.versions.values()) mb += (entry.ready.length + entry.restoring) * entry.memoryMb;
    return mb;
  }

  /** Clones ready now. */
  count(): number {
    let n = 0;
    for (const entry of this.versions.values()) n += entry.ready.length;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.versions.keys()].map((key) => this.drop(key)));
  }

  private async drop(key: string): Promise<void> {
    const entry = this.versions.get(key);
    if (!entry) return;
    this.versions.delete(key);
    entry.idle?.cancel();
    await Promise.all(entry.ready.splice(0).map(destroyClone));
  }
}

/** The whole spec: a clone is only ever taken for the same account, function, version, code, limits and snapshot. */
function keyOf(spec: EnvironmentSpec): string {
  return JSON.stringify(spec);
}

/** Ends a clone nobody took: its sandbox, its cache leases, its control directory. */
export async function destroyClone(clone: PreRestored | undefined): Promise<void> {
  if (!clone) return;
  await clone.sandbox.destroy();
  clone.leases.releaseAll();
  await removeDir(clone.controlDir);
}
