import { environmentSpec } from '../assignment/index.js';
import { putChunkedBlob, type ChunkStore } from '../codestore/index.js';
import type { FunctionRegistries, PublishedVersion, VersionSnapshot } from '../registry/index.js';
import { StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { WorkerAgent } from '../worker/index.js';

export interface SnapStartDeps {
  registries: Pick<FunctionRegistries, 'for' | 'onRegistry'>;
  /** The workers a snapshot may be made on (the one with the most free memory first; the next if it cannot be reached). */
  workers: () => WorkerAgent[] | Promise<WorkerAgent[]>;
  /** Where snapshots are stored, chunked (`putChunkedBlob`). */
  chunks: Pick<ChunkStore, 'putChunk' | 'putImage'>;
  log: Logger;
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
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly deps: SnapStartDeps) {
    deps.registries.onRegistry((registry) => registry.onSnapshotPending((version) => this.prepare(version)));
  }

  /** Makes the snapshot of a pending version (in the background; `settled()` waits for all). */
  prepare(version: PublishedVersion): void {
    const job = this.make(version).catch((err: unknown) => this.deps.log.warn({ err, fn: version.name, version: version.version }, 'SnapStart state not recorded'));
    this.inflight.add(job);
    void job.finally(() => this.inflight.delete(job));
  }

  async settled(): Promise<void> {
    await Promise.all([...this.inflight]);
  }

  private async make(version: PublishedVersion): Promise<void> {
    const { name } = version;
    const state = await this.snapshot(version);
    this.deps.log.info({ fn: name, version: version.version, status: state.status, reason: state.reason }, 'SnapStart snapshot');
    await this.deps.registries.for(version.accountId).setSnapshot(name, version.version, state);
  }

  private async snapshot(version: PublishedVersion): Promise<VersionSnapshot> {
    const workers = (await this.deps.workers()).filter((w) => w.createSnapshot).sort((a, b) => free(b) - free(a));
    if (workers.length === 0) return off('No worker of this installation can checkpoint sandboxes');
    const spec = environmentSpec(this.deps.registries.for(version.accountId).resolve(version.name, version.version));
    let lastError: unknown;
    for (const worker of workers) {
      try {
        if (!worker.createSnapshot) continue;
        const { tar } = await worker.createSnapshot(spec);
        // Chunked, as images are: any worker restores it, fetching the chunks through its chunk cache.
        return { status: 'ready', image: await putChunkedBlob(this.deps.chunks, tar), chunked: true };
      } catch (err) {
        lastError = err;
        // A worker that cannot be reached (it left meanwhile): another one makes the snapshot.
        if (err instanceof StratusError && err.code === 'WorkerUnavailable') continue;
        break;
      }
    }
    const err = lastError;
    if (!(err instanceof StratusError) || err.code !== 'SnapshotFailed') return off(`The snapshot could not be made: ${String(err)}`);
    if (err.details.kind === 'init') return { status: 'failed', reasonCode: 'FunctionError', reason: err.message };
    return off(err.message);
  }
}

function free(worker: WorkerAgent): number {
  const status = worker.status();
  return status.memoryMb - status.memoryReservedMb;
}

function off(reason: string): VersionSnapshot {
  return { status: 'off', reasonCode: UNAVAILABLE, reason: `${reason}. Cold starts of this version initialize as usual.` };
}
