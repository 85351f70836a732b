import { randomBytes } from 'node:crypto';
import { rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, TimerHandle } from './clock.js';
import { StratusError } from './errors.js';
import type { Logger } from './log.js';

/** What a caller is told when the data disk has no room for its write. */
export const DISK_FULL_MESSAGE = "Stratus's data disk is full: delete functions, versions or layers, or free space on it, then try again.";

/** The reserve file in the data directory (see `DataDisk`). */
export const RESERVE_FILE = '.disk-reserve';
/** Room kept for deletes and the journal's own writes (SQLite needs WAL pages even to delete). */
export const DEFAULT_RESERVE_BYTES = 8 * 1024 * 1024;
/** A write that grows the data is refused when it would leave less than this free. */
export const DEFAULT_MARGIN_BYTES = 2 * 1024 * 1024;
/** While full, how often the disk looks for room again by itself (log appends and invokes never ask). */
export const DEFAULT_RECHECK_MS = 5_000;

export interface DataDiskOptions {
  reserveBytes?: number;
  marginBytes?: number;
  recheckMs?: number;
}

/** A write failed for want of space: ENOSPC or EDQUOT from the filesystem, SQLite's SQLITE_FULL (its ENOSPC), or ours. */
export function isDiskFull(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_SHMSIZE' || code === 'DiskFull';
}

export function diskFullError(cause?: unknown): StratusError {
  return isDiskFull(cause) && cause instanceof StratusError ? cause : new StratusError('DiskFull', DISK_FULL_MESSAGE, { cause });
}

/**
 * What the stores of a data directory consult before and after their writes. A write that grows
 * the stored data is `admit`ted only while the disk holds its reserve and has room for it; a write
 * that does not grow it (a delete, the journal's own records) always goes ahead, and when any write
 * fails for want of space the reserve is `release`d so that those can go on.
 */
export interface DiskSpace {
  /** True while writes that grow the data are refused (the reserve is released). */
  readonly full: boolean;
  /** Resolves if a write of about `bytes` more may go ahead; rejects with DiskFull otherwise. */
  admit(bytes?: number): Promise<void>;
  /** A write failed for want of space: gives the reserve back to the disk. Resolves whether a retry may now find room. */
  release(): Promise<boolean>;
}

/**
 * Runs a write; if it fails for want of space, the reserve is released and (with `retry`, for
 * writes that free space or must not fail: deletes, the journal's records) the write runs once
 * more; a failure for want of space becomes DiskFull.
 */
export async function writeOrDiskFull<T>(disk: DiskSpace | undefined, write: () => T | Promise<T>, opts: { retry?: boolean } = {}): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!isDiskFull(err)) throw err;
    const released = (await disk?.release()) ?? false;
    if (!opts.retry || !released) throw diskFullError(err);
    try {
      return await write();
    } catch (again) {
      throw isDiskFull(again) ? diskFullError(again) : again;
    }
  }
}

/** A write that grows the stored data by about `bytes`: admitted by the disk first (DiskFull, nothing written, if not), then run by `writeOrDiskFull`. */
export async function growingWrite<T>(disk: DiskSpace | undefined, bytes: number, write: () => T | Promise<T>): Promise<T> {
  await disk?.admit(bytes);
  return writeOrDiskFull(disk, write);
}

/**
 * The data directory's disk, on one machine: a reserve file of a few MB is kept in it while
 * there is room. When a write fails for want of space (or free space falls below the margin) the
 * reserve is deleted, which gives SQLite and the code store room for deletes and for the
 * journal's own records (an invoke's), while every write that would grow the data is refused
 * with DiskFull. Each refused write looks again, and so does the disk itself every `recheckMs`
 * while full (function logs, refused at once while full, never ask): once there is room for the
 * reserve and the margin, the reserve is made again and writes resume, without a restart.
 */
export class DataDisk implements DiskSpace {
  private held = false;
  private recovering: Promise<boolean> | undefined;
  private releasing: Promise<void> | undefined;
  private recheck: TimerHandle | undefined;
  private closed = false;
  private readonly path: string;
  private readonly reserveBytes: number;
  private readonly marginBytes: number;
  private readonly recheckMs: number;

  private constructor(private readonly dir: string, private readonly log: Logger, private readonly clock: Clock, opts: DataDiskOptions) {
    this.path = join(dir, RESERVE_FILE);
    this.reserveBytes = opts.reserveBytes ?? DEFAULT_RESERVE_BYTES;
    this.marginBytes = opts.marginBytes ?? DEFAULT_MARGIN_BYTES;
    this.recheckMs = opts.recheckMs ?? DEFAULT_RECHECK_MS;
  }

  /** Takes the disk as it is at start: a full disk gets its reserve back first, so start-up can write. */
  static async open(dir: string, log: Logger, clock: Clock, opts: DataDiskOptions = {}): Promise<DataDisk> {
    const disk = new DataDisk(dir, log, clock, opts);
    const size = await stat(disk.path).then((s) => s.size, () => -1);
    if (size >= 0 && size !== disk.reserveBytes) await rm(disk.path, { force: true });
    disk.held = size === disk.reserveBytes;
    if (disk.held && (await disk.freeBytes()) < disk.marginBytes) await disk.release();
    else if (!disk.held && !(await disk.recover())) log.warn({ dataDir: dir }, 'the data disk is full: Stratus starts, refusing writes until space is freed');
    return disk;
  }

  /** Stops looking for room. */
  close(): void {
    this.closed = true;
    this.recheck?.cancel();
    this.recheck = undefined;
  }

  get full(): boolean {
    return !this.held;
  }

  /** Free bytes on the data directory's file system (for this process). */
  async freeBytes(): Promise<number> {
    const s = await statfs(this.dir);
    return s.bavail * s.bsize;
  }

  async admit(bytes = 0): Promise<void> {
    if (!this.held && !(await this.recover())) throw diskFullError();
    const free = await this.freeBytes();
    if (free >= bytes + this.marginBytes) return;
    if (free < this.marginBytes) await this.release();
    throw diskFullError();
  }

  async release(): Promise<boolean> {
    if (this.held) {
      this.held = false;
      this.releasing = rm(this.path, { force: true }).catch((err: unknown) => this.log.error({ err }, 'the data disk reserve could not be removed'));
      this.log.warn({ dataDir: this.dir }, 'the data disk is full: its reserve is released for deletes and the journal; writes are refused until space is freed');
      this.lookAgainLater();
    }
    if (!this.releasing) return false;
    await this.releasing;
    return true;
  }

  /** Makes the reserve again if there is room for it and the margin (one attempt at a time); while not, looks again every `recheckMs`. */
  private recover(): Promise<boolean> {
    this.recovering ??= this.makeReserve().finally(() => (this.recovering = undefined));
    void this.recovering.then((made) => {
      if (!made) this.lookAgainLater();
    }, () => this.lookAgainLater());
    return this.recovering;
  }

  private lookAgainLater(): void {
    if (this.closed || this.recheck) return;
    this.recheck = this.clock.setTimer(this.recheckMs, () => {
      this.recheck = undefined;
      void this.recover().catch((err: unknown) => this.log.error({ err }, 'the data disk could not be checked for room'));
    });
  }

  private async makeReserve(): Promise<boolean> {
    if (this.held) return true;
    if ((await this.freeBytes()) < this.reserveBytes + this.marginBytes) return false;
    try {
      // Random bytes: a compressing file system would store zeros in no space at all.
      await writeFile(this.path, randomBytes(this.reserveBytes), { mode: 0o600 });
    } catch (err) {
      await rm(this.path, { force: true });
      if (isDiskFull(err)) return false;
      throw err;
    }
    const wasReleased = this.releasing !== undefined;
    this.held = true;
    this.releasing = undefined;
    if (wasReleased) this.log.info({ dataDir: this.dir }, 'the data disk has room again: its reserve is back and writes resume');
    return true;
  }
}
