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
  /** At most this many of those versions belong to one account (default: half of maxVersions, at least 1). */
  maxVersionsPerAccount?: number;
  /** The worker's memory not reserved by anything (environments, stems, these clones): a clone is restored only into room. */
  freeMb(): number;
  clock: Clock;
  log: Logger;
  /** Restores one paused clone of `spec` (SnapStartBoots.preRestore). */
  restore(spec: EnvironmentSpec, image: CodeRef): Promise<PreRestored>;
}

/** A version whose pre-restores failed this many times in a row gets no more until its next cold start. */
const MAX_FAILURES = 3;
const RETRY_MS = 1_000;

interface VersionClones {
  accountId: string;
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
 * handed out once. Clones count towards the worker's memory like environments, but they are a
 * cache: one is restored only when the worker's reservations leave room for it, a create that
 * needs the room drops them first (`makeRoom`), and one account holds at most
 * `maxVersionsPerAccount` of the version slots.
 */
export class SnapStartClones {
  private readonly versions = new Map<string, VersionClones>();
  /** Restores under way (also of versions dropped meanwhile): their memory, awaited by close(). */
  private readonly inFlight = new Map<Promise<unknown>, number>();
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
    const entry = this.versions.get(key) ?? { accountId: spec.accountId, ready: [], restoring: 0, failures: 0, memoryMb: spec.memoryMb };
    this.versions.delete(key);
    this.versions.set(key, entry);
    this.limitVersions(spec.accountId);
    entry.idle?.cancel();
    entry.idle = this.deps.clock.setTimer(this.deps.idleMs, () => this.dropLogged(key));
    while (entry.ready.length + entry.restoring < this.deps.perVersion) {
      if (this.deps.freeMb() < spec.memoryMb) {
        this.deps.log.debug({ fn: spec.functionName, version: spec.version, ready: entry.ready.length }, 'SnapStart: no room for a clone');
        return;
      }
      entry.restoring++;
      this.track(this.deps.restore(spec, image).then(
        (clone) => this.restored(key, entry, spec, clone),
        (err: unknown) => this.failed(key, entry, spec, image, err),
      ), spec.memoryMb);
    }
  }

  /**
   * Makes `needMb` of room for a new environment of `spec` (the worker has `freeMb` free):
   * drops clones, least recently used version first, until it fits or none is left. A ready
   * clone of `spec` itself becomes that environment, so then nothing is dropped.
   */
  makeRoom(spec: EnvironmentSpec, freeMb: number): void {
    if (this.ready(spec) > 0) return;
    let free = freeMb;
    for (const [key, entry] of this.versions) {
      if (free >= spec.memoryMb) return;
      free += entry.ready.length * entry.memoryMb;
      this.deps.log.debug({ dropped: entry.ready.length, memoryMb: entry.memoryMb, for: spec.functionName }, 'SnapStart: clones dropped to make room');
      this.dropLogged(key);
    }
  }

  /** Memory of the clones restored or being restored (reserved like environments'). */
  reservedMb(): number {
    let mb = 0;
    for (const entry of this.versions.values()) mb += entry.ready.length * entry.memoryMb;
    for (const restoring of this.inFlight.values()) mb += restoring;
    return mb;
  }

  /** Clones ready now. */
  count(): number {
    let n = 0;
    for (const entry of this.versions.values()) n += entry.ready.length;
    return n;
  }

  /** Destroys every clone, also those still being restored (once they are). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.versions.keys()].map((key) => this.drop(key)));
    await Promise.all(this.inFlight.keys());
  }

  private track(restore: Promise<unknown>, memoryMb: number): void {
    const done = restore.catch((err: unknown) => this.deps.log.warn({ err }, 'SnapStart: a clone could not be handled'))
      .finally(() => this.inFlight.delete(done));
    this.inFlight.set(done, memoryMb);
  }

  private async restored(key: string, entry: VersionClones, spec: EnvironmentSpec, clone: PreRestored): Promise<void> {
    entry.restoring--;
    if (this.closed || this.versions.get(key) !== entry) return destroyClone(clone);
    entry.failures = 0;
    entry.ready.push(clone);
    this.deps.log.debug({ fn: spec.functionName, version: spec.version, ready: entry.ready.length }, 'SnapStart: clone restored ahead');
    void clone.sandbox.exited.then(async () => {
      const at = entry.ready.indexOf(clone);
      if (at >= 0) await destroyClone(entry.ready.splice(at, 1)[0]);
    }).catch((err: unknown) => this.deps.log.warn({ err }, 'SnapStart: a dead clone could not be cleaned up'));
  }

  private failed(key: string, entry: VersionClones, spec: EnvironmentSpec, image: CodeRef, err: unknown): void {
    entry.restoring--;
    entry.failures++;
    this.deps.log.warn({ err, fn: spec.functionName, version: spec.version, failures: entry.failures }, 'SnapStart: a clone could not be restored ahead');
    if (entry.failures >= MAX_FAILURES) return;
    this.deps.clock.setTimer(RETRY_MS * entry.failures, () => {
      if (this.versions.get(key) === entry) this.refill(spec, image);
    });
  }

  /** The least recently used versions give way: beyond maxVersions, or beyond the account's share of them. */
  private limitVersions(accountId: string): void {
    const perAccount = this.deps.maxVersionsPerAccount ?? Math.max(1, Math.floor(this.deps.maxVersions / 2));
    let ofAccount = 0;
    for (const entry of this.versions.values()) if (entry.accountId === accountId) ofAccount++;
    for (const [key, entry] of this.versions) {
      const mine = entry.accountId === accountId;
      if (this.versions.size <= this.deps.maxVersions && !(mine && ofAccount > perAccount)) continue;
      if (mine) ofAccount--;
      this.dropLogged(key);
    }
  }

  private dropLogged(key: string): void {
    void this.drop(key).catch((err: unknown) => this.deps.log.warn({ err }, 'SnapStart: clones could not be destroyed'));
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
