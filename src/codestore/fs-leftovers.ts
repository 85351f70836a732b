import { randomUUID } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** How old a temporary file must be before a start removes it: older than any write in progress. */
const STALE_MS = 10 * 60 * 1000;

/** The name of a write's temporary file: `.tmp-<pid of the writer>-<uuid>`. */
export function temporaryName(): string {
  return `.tmp-${process.pid}-${randomUUID()}`;
}

/** Whether process `pid` exists (signal 0: ESRCH means it is gone; EPERM, another user's, is alive). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Was this temporary file written by a process that is gone (killed mid-write)? */
function writerGone(name: string): boolean {
  const pid = Number(/^\.tmp-(\d+)-/.exec(name)?.[1] ?? NaN);
  return Number.isInteger(pid) && pid !== process.pid && !processAlive(pid);
}

/**
 * Removes what writes cut short left in a filesystem code store (`.tmp-*` files of an upload or
 * a chunk that a crash or a full disk interrupted): at once if the process that wrote it is gone
 * (a SIGKILL mid-write), else once it is older than any write still in progress could be;
 * resolves how many were removed. Run at start.
 */
export async function removeLeftoverWrites(root: string, nowMs: number): Promise<number> {
  const dirs = [join(root, 'sha256'), join(root, 'images'), ...(await subdirs(join(root, 'chunks')))];
  let removed = 0;
  for (const dir of dirs) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!name.startsWith('.tmp-')) continue;
      const path = join(dir, name);
      const info = await stat(path).catch(() => undefined);
      if (!info || (nowMs - info.mtimeMs < STALE_MS && !writerGone(name))) continue;
      await rm(path, { force: true });
      removed++;
    }
  }
  return removed;
}

async function subdirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
}
