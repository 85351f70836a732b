import { join } from 'node:path';
import { FilesystemChunkStore, FilesystemCodeStore, type ChunkPutResult, type CodeRef, type ImageManifest } from '../codestore/index.js';
import { DataDisk, growingWrite, type DiskSpace } from '../shared/disk-space.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';
import type { Metrics } from '../shared/metrics.js';

/**
 * `stratus up`'s data directory as one disk (see `shared/disk-space.ts` and
 * docs/storage-lifecycle.md#full-disk): its reserve, the code stores that ask it before they
 * write, and the count of function log events dropped while it was full.
 */
export class DataDirectory {
  /** Function log events dropped because the disk was full (a running total). */
  private droppedLogEvents = 0;

  private constructor(readonly disk: DataDisk, readonly code: FilesystemCodeStore, readonly chunks: FilesystemChunkStore) {}

  static async open(dataDir: string, log: Logger, clock: Clock): Promise<DataDirectory> {
    const disk = await DataDisk.open(dataDir, log.child({ component: 'disk' }), clock);
    return new DataDirectory(disk, new DiskCodeStore(join(dataDir, 'code'), clock, disk), new DiskChunkStore(join(dataDir, 'code'), clock, disk));
  }

  /** For the log ingest: function log events it dropped on a full disk. */
  readonly logsDropped = (events: number): void => {
    this.droppedLogEvents += events;
  };

  metrics(metrics: Metrics): void {
    metrics.gauge('stratus_data_disk_full', 'Whether writes that grow the stored data are refused because the data disk is full (1) or not (0)', [],
      () => [[{}, this.disk.full ? 1 : 0]]);
    metrics.gauge('stratus_data_disk_free_bytes', "Free bytes on the data directory's file system", [], async () => [[{}, await this.disk.freeBytes()]]);
    metrics.counterReadOnScrape('stratus_function_log_events_dropped_total', 'Function log events dropped instead of stored, by reason', ['reason'],
      () => [[{ reason: 'disk_full' }, this.droppedLogEvents]]);
  }
}

/** A package is written only if the disk admits its size; a write cut short by a full disk leaves nothing and is DiskFull. */
class DiskCodeStore extends FilesystemCodeStore {
  constructor(root: string, clock: Clock, private readonly disk: DiskSpace) {
    super(root, clock);
  }

  override async put(bytes: Buffer): Promise<CodeRef> {
    return growingWrite(this.disk, bytes.length, () => super.put(bytes));
  }
}

/** Image chunks and manifests, admitted by the disk in the same way. */
class DiskChunkStore extends FilesystemChunkStore {
  constructor(root: string, clock: Clock, private readonly disk: DiskSpace) {
    super(root, clock);
  }

  override async putChunk(bytes: Buffer): Promise<ChunkPutResult> {
    return growingWrite(this.disk, bytes.length, () => super.putChunk(bytes));
  }

  override async putImage(manifest: ImageManifest): Promise<void> {
    await growingWrite(this.disk, 0, () => super.putImage(manifest));
  }
}
