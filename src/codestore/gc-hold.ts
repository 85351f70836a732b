import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '../shared/clock.js';
import { processAlive } from './fs-leftovers.js';

/**
 * Holds on the code garbage collection of one machine's data directory: while a hold is in
 * force the collector deletes no blob (`stratus backup` holds it from before it snapshots the
 * journal until it has copied every blob that snapshot references). A hold is a file
 * `<dataDir>/gc-hold/<pid>-<uuid>.json` with the holder's pid and an expiry; it binds only while
 * that process lives and the expiry is ahead, so a backup killed midway holds nothing for long.
 */
export interface GcHoldRecord {
  pid: number;
  expiresAtMs: number;
}

export interface GcHold {
  /** Moves the expiry to `durationMs` from now (done by itself every third of it until released). */
  renew(): Promise<void>;
  release(): Promise<void>;
}

const HOLD_DIR = 'gc-hold';

/** Takes a hold for `durationMs`, renewed every third of it on `clock` until released (however long the holder's work takes). */
export async function holdGc(dataDir: string, clock: Clock, durationMs: number): Promise<GcHold> {
  const dir = join(dataDir, HOLD_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${process.pid}-${randomUUID()}.json`);
  const state: { timer?: TimerHandle; writing?: Promise<void>; released: boolean } = { released: false };
  const write = async () => {
    const record: GcHoldRecord = { pid: process.pid, expiresAtMs: clock.now() + durationMs };
    const tmp = `${file}.tmp`;
    await writeFile(tmp, JSON.stringify(record), { mode: 0o600 });
    await rename(tmp, file);
  };
  const renewLater = () => {
    state.timer = clock.setTimer(durationMs / 3, () => {
      if (state.released) return;
      state.writing = write().catch(() => undefined).finally(renewLater);
    });
  };
  await write();
  renewLater();
  return {
    renew: write,
    release: async () => {
      state.released = true;
      state.timer?.cancel();
      await state.writing;
      await rm(file, { force: true });
    },
  };
}

/**
 * Whether the code collector of `dataDir` must leave every blob alone now. The collector asks
 * right before it deletes (each blob, or each batch): a hold taken before a backup's journal
 * snapshot then protects every blob that snapshot references. Stale holds (expired, or of a
 * process that is gone) do not bind and are left for the next holder's directory listing.
 */
export async function gcHeld(dataDir: string, clock: Clock): Promise<boolean> {
  const dir = join(dataDir, HOLD_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const record = await readFile(join(dir, name), 'utf8').then(parseHold, () => undefined);
    if (!record || typeof record.pid !== 'number' || typeof record.expiresAtMs !== 'number') continue;
    if (record.expiresAtMs > clock.now() && processAlive(record.pid)) return true;
  }
  return false;
}

function parseHold(text: string): Partial<GcHoldRecord> | undefined {
  try {
    return JSON.parse(text) as Partial<GcHoldRecord>;
  } catch {
    return undefined;
  }
}
