import { mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { temporaryName } from './fs-leftovers.js';

/**
 * Writes `bytes` to `path` atomically (a temporary file renamed over it), its mtime set to
 * `nowMs`: a filesystem store's last-put time is the file's mtime.
 */
export async function atomicWrite(path: string, bytes: Buffer, nowMs: number): Promise<void> {
  const dir = join(path, '..');
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, temporaryName());
  try {
    await writeFile(tmp, bytes);
    await utimes(tmp, nowMs / 1000, nowMs / 1000);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }); // a full disk leaves no partial file behind
    throw err;
  }
}

/** A `catch` handler: ENOENT (no such file or directory) becomes `value`; any other error is thrown again. */
export function absentAs<T>(value: T): (err: unknown) => T {
  return (err: unknown) => {
    if ((err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return value;
    throw err;
  };
}

/** Sets the file's mtime (its last-put time) to `nowMs`; false if there is no such file. */
export function touch(path: string, nowMs: number): Promise<boolean> {
  return utimes(path, nowMs / 1000, nowMs / 1000).then(() => true, () => false);
}

/** Removes the file if its mtime is before `beforeMs`; resolves whether it did. */
export async function removeIfModifiedBefore(path: string, beforeMs: number): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  if (!info || Math.round(info.mtimeMs) >= beforeMs) return false;
  await rm(path, { force: true });
  return true;
}

/**
 * The files of `dir` whose names match `name`, with size and mtime (none if the directory is
 * absent, and not one removed while listing). Any other failure rejects: the collector keeps
 * only what a listing shows, so a listing must never come back short.
 */
export async function filesIn(dir: string, name: RegExp): Promise<{ name: string; path: string; size: number; mtimeMs: number }[]> {
  const found = [];
  for (const entry of await readdir(dir).catch(absentAs([] as string[]))) {
    if (!name.test(entry)) continue;
    const path = join(dir, entry);
    const info = await stat(path).catch(absentAs(undefined));
    if (info?.isFile()) found.push({ name: entry, path, size: info.size, mtimeMs: Math.round(info.mtimeMs) });
  }
  return found;
}
