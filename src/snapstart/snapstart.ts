import { environmentSpec } from '../assignment/index.js';
import { putChunkedBlob, type ChunkStore } from '../codestore/index.js';
import type { FunctionRegistries, PublishedVersion, VersionSnapshot } from '../registry/index.js';
import type { Clock, TimerHandle } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { INIT_TIMEOUT_MS, type WorkerAgent } from '../worker/index.js';

export interface SnapStartDeps {
  registries: Pick<FunctionRegistries, 'for' | 'onRegistry' | 'all'>;
  /** The workers a snapshot may be made on (the one with the most free memory first; the next if it cannot be reached). */
  workers: () => WorkerAgent[] | Promise<WorkerAgent[]>;
  /** Where snapshots are stored, chunked (`putChunkedBlob`). */
  chunks: Pick<ChunkStore, 'putChunk' | 'putImage'>;
  log: Logger;
  clock: Clock;
  /**
   * A cluster's frontends: each version's snapshot is made under the version's own election
   * (`snapshotOwner`), so its owner is known alive while it holds the lease. Absent (one
   * process, `stratus up`): this process owns every version.
   */
  owners?: { election(version: PublishedVersion): OwnerElection; candidate: { id: string; address: string } };
  /** A version Pending this long since its publication with no owner is made again (default 15 s). */
  orphanAfterMs?: number;
  /** How often Pending versions are looked over (default 5 s). */
  sweepIntervalMs?: number;
  /**
   * A snapshot not made within the init timeout (10 s) plus this long is given up (its request
   * ended): the version turns Active with OptimizationStatus Off (default 120 s).
   */
  dumpBudgetMs?: number;
  /**
   * After an attempt whose outcome could not be recorded, the version is not taken up again by
   * this process for this long, doubled on each further failure up to `maxRetryAfterMs`
   * (defaults 30 s, 10 minutes).
   */
  retryAfterMs?: number;
  maxRetryAfterMs?: number;
}

/** What a version's owner needs of the journal's `LeaderElection` (a lease-bound key in etcd). */
export interface OwnerElection {
  /** Resolves once elected (waiting while another holds it); rejects if `signal` aborts. */
  campaign(candidate: { id: string; address: string }, signal?: AbortSignal): Promise<{ resign(): Promise<void> }>;
  /** The holder, if any. */
  leader(): Promise<unknown>;
}

/** The election that owns a version's snapshot: `snapstart/<account>/<name>:<version>`. */
export function snapshotOwner(version: Pick<PublishedVersion, 'accountId' | 'name' | 'version'>): string {
  return `snapstart/${version.accountId}/${version.name}:${version.version}`;
}

/** StateReasonCode of a version whose snapshot cannot be made on this installation (cold starts boot). */
export const UNAVAILABLE = 'SnapStartUnavailable';

/**
 * SnapStart's life cycle on the control plane: a version published with ApplyOn
 * PublishedVersions is Pending while a worker (any worker of a cluster) boots, initializes and
 * checkpoints it; the snapshot (one tar) goes into the chunk store, chunked, and the version records
 * it; any worker restores it. The version becomes Active with
 * OptimizationStatus On. Where no snapshot can be made the version is Active with
 * OptimizationStatus Off and the reason; a failing initialization makes it Failed.
 */
export class SnapStartService {
  /** Versions (`snapshotOwner`) this process is making or waiting to own. */
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private timer: TimerHandle | undefined;
  /** Versions (`snapshotOwner`) whose last attempts here failed: how many, and when one may be made again. */
  private readonly failures = new Map<string, { count: number; retryAtMs: number }>();

  constructor(private readonly deps: SnapStartDeps) {
    deps.registries.onRegistry((registry) => registry.onSnapshotPending((version) => this.prepare(version)));
  }

  /**
   * Looks over Pending versions now and every `sweepIntervalMs`: one that nobody makes (its
   * maker stopped, or could not record the outcome) is made here. At start on one machine every
   * Pending version is (a snapshot cut short by a restart); in a cluster, one Pending for
   * `orphanAfterMs` whose election has no leader (its frontend's lease ran out).
   */
  start(): void {
    this.sweep(this.deps.owners ? this.orphanAfterMs : 0);
  }

  /**
   * Stops looking and waits for the snapshots under way (a campaign for a version is given up);
   * of those, only snapshots made are recorded from now on.
   */
  async stop(): Promise<void> {
    this.abort.abort();
    this.timer?.cancel();
    await this.settled();
  }

  /** Makes the snapshot of a pending version (in the background; `settled()` waits for all). */
  prepare(version: PublishedVersion): void {
    const key = snapshotOwner(version);
    if (this.inflight.has(key) || this.abort.signal.aborted) return;
    const job = this.owned(version).then(
      () => void this.failures.delete(key),
      (err: unknown) => {
        if (this.abort.signal.aborted) return;
        const count = (this.failures.get(key)?.count ?? 0) + 1;
        const retryInMs = Math.min((this.deps.retryAfterMs ?? 30_000) * 2 ** (count - 1), this.deps.maxRetryAfterMs ?? 600_000);
        this.failures.set(key, { count, retryAtMs: this.deps.clock.now() + retryInMs });
        this.deps.log.warn({ err, fn: version.name, version: version.version, failures: count, retryInMs }, 'SnapStart state not recorded');
      },
    );
    this.inflight.set(key, job);
    void job.finally(() => this.inflight.delete(key));
  }

  async settled(): Promise<void> {
    await Promise.all([...this.inflight.values()]);
  }

  private get orphanAfterMs(): number {
    return this.deps.orphanAfterMs ?? 15_000;
  }

  private sweep(minAgeMs: number): void {
    void this.findOrphans(minAgeMs)
      .catch((err: unknown) => this.deps.log.warn({ err }, 'looking for Pending SnapStart versions failed'))
      .finally(() => {
        if (!this.abort.signal.aborted) this.timer = this.deps.clock.setTimer(this.deps.sweepIntervalMs ?? 5_000, () => this.sweep(this.orphanAfterMs));
      });
  }

  private async findOrphans(minAgeMs: number): Promise<void> {
    const now = this.deps.clock.now();
    const pending = new Set<string>();
    for (const registry of this.deps.registries.all()) {
      for (const version of [...registry.versions.all()]) {
        const key = snapshotOwner(version);
        if (version.snapshot?.status !== 'pending') continue;
        pending.add(key);
        if (now - version.lastModifiedMs < minAgeMs || this.inflight.has(key) || now < (this.failures.get(key)?.retryAtMs ?? 0)) continue;
        if (this.deps.owners && (await this.deps.owners.election(version).leader())) continue;
        this.deps.log.warn({ fn: version.name, version: version.version, pendingMs: now - version.lastModifiedMs }, 'SnapStart version Pending with no maker: making its snapshot here');
        this.prepare(version);
      }
    }
    for (const key of this.failures.keys()) if (!pending.has(key)) this.failures.delete(key);
  }

  /**
   * Owns the version (in a cluster: waits while another live frontend does), then makes it if it
   * is still Pending in the journal (this process's copy may not show yet what the previous owner
   * recorded before it resigned).
   */
  private async owned(version: PublishedVersion): Promise<void> {
    const leadership = await this.deps.owners?.election(version).campaign(this.deps.owners.candidate, this.abort.signal);
    try {
      const current = await this.deps.registries.for(version.accountId).versions.read(version.name, version.version);
      if (current?.snapshot?.status === 'pending') await this.make(current);
    } finally {
      await leadership?.resign();
    }
  }

  private async make(version: PublishedVersion): Promise<void> {
    const { name } = version;
    const state = await this.snapshot(version);
    // Stopping (its worker may be stopping too): only a snapshot made is recorded; a failure may be
    // the stop's doing, so the version stays Pending for the next start or another frontend.
    if (this.abort.signal.aborted && state.status !== 'ready') {
      this.deps.log.info({ fn: name, version: version.version, reason: state.reason }, 'SnapStart snapshot cut short by the stop: left Pending');
      return;
    }
    const recorded = await this.deps.registries.for(version.accountId).setSnapshot(name, version.version, state);
    this.deps.log.info({ fn: name, version: version.version, status: state.status, reason: state.reason, recorded }, recorded ? 'SnapStart snapshot' : 'SnapStart snapshot made, but another frontend recorded the version first');
  }

  private async snapshot(version: PublishedVersion): Promise<VersionSnapshot> {
    const workers = (await this.deps.workers()).filter((w) => w.createSnapshot).sort((a, b) => free(b) - free(a));
    if (workers.length === 0) return off('No worker of this installation can checkpoint sandboxes');
    const spec = environmentSpec(this.deps.registries.for(version.accountId).resolve(version.name, version.version));
    // A worker whose host vanished without a word never answers: the attempt has a deadline, and a stop ends it too.
    const budgetMs = INIT_TIMEOUT_MS + (this.deps.dumpBudgetMs ?? 120_000);
    const deadline = new AbortController();
    const timer = this.deps.clock.setTimer(budgetMs, () => deadline.abort(new StratusError('SnapshotFailed', `The snapshot was not made within ${budgetMs / 1000} s`, { details: { kind: 'platform' } })));
    const signal = AbortSignal.any([this.abort.signal, deadline.signal]);
    let lastError: unknown;
    try {
      for (const worker of workers) {
        try {
          if (!worker.createSnapshot) continue;
          const { tar } = await untilAborted(worker.createSnapshot(spec, { signal }), signal);
          // Chunked, as images are: any worker restores it, fetching the chunks through its chunk cache.
          return { status: 'ready', image: await putChunkedBlob(this.deps.chunks, tar), chunked: true };
        } catch (err) {
          lastError = signal.aborted ? signal.reason : err;
          // A worker that cannot be reached (it left meanwhile): another one makes the snapshot.
          if (!signal.aborted && err instanceof StratusError && err.code === 'WorkerUnavailable') continue;
          break;
        }
      }
    } finally {
      timer.cancel();
    }
    const err = lastError;
    if (!(err instanceof StratusError) || err.code !== 'SnapshotFailed') return off(`The snapshot could not be made: ${String(err)}`);
    if (err.details.kind === 'init') return { status: 'failed', reasonCode: 'FunctionError', reason: err.message };
    return off(err.message);
  }
}

/** `work`, or the signal's reason once it aborts (an agent may not heed the signal itself). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

function free(worker: WorkerAgent): number {
  const status = worker.status();
  return status.memoryMb - status.memoryReservedMb;
}

function off(reason: string): VersionSnapshot {
  return { status: 'off', reasonCode: UNAVAILABLE, reason: `${reason}. Cold starts of this version initialize as usual.` };
}
