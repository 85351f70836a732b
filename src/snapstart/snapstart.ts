import { environmentSpec } from '../assignment/index.js';
import type { CodeStore } from '../codestore/index.js';
import type { FunctionRegistries, PublishedVersion, VersionSnapshot } from '../registry/index.js';
import { StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { WorkerAgent } from '../worker/index.js';

export interface SnapStartDeps {
  registries: Pick<FunctionRegistries, 'for' | 'onRegistry'>;
  /** The workers to make snapshots on (the first one that offers it). */
  workers: () => WorkerAgent[];
  code: Pick<CodeStore, 'put'>;
  log: Logger;
}

/** StateReasonCode of a version whose snapshot cannot be made on this installation (cold starts boot). */
export const UNAVAILABLE = 'SnapStartUnavailable';

/**
 * SnapStart's life cycle on the control plane: a version published with ApplyOn
 * PublishedVersions is Pending while a worker boots, initializes and checkpoints it; the
 * snapshot (one tar) goes into the code store and the version becomes Active with
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
    const worker = this.deps.workers().find((w) => w.createSnapshot);
    if (!worker?.createSnapshot) return off('No worker of this installation can checkpoint sandboxes');
    try {
      const { tar } = await worker.createSnapshot(environmentSpec(this.deps.registries.for(version.accountId).resolve(version.name, version.version)));
      return { status: 'ready', image: await this.deps.code.put(tar) };
    } catch (err) {
      if (!(err instanceof StratusError) || err.code !== 'SnapshotFailed') return off(`The snapshot could not be made: ${String(err)}`);
      if (err.details.kind === 'init') return { status: 'failed', reasonCode: 'FunctionError', reason: err.message };
      return off(err.message);
    }
  }
}

function off(reason: string): VersionSnapshot {
  return { status: 'off', reasonCode: UNAVAILABLE, reason: `${reason}. Cold starts of this version initialize as usual.` };
}
