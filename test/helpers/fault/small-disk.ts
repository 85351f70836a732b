import { execFile } from 'node:child_process';
import { open, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What a fill leaves free: less than any write that grows the data needs (the disk's margin is 2 MiB). */
const LEFT_FREE = 256 * 1024;

/** A data directory on a small file system of its own, which a test fills and empties (the filler only: bounded by the mount). */
export interface SmallDisk {
  /** Fills it to the last LEFT_FREE bytes; resolves true once it is. */
  fill(): Promise<boolean>;
  empty(): Promise<void>;
  unmount(): Promise<void>;
}

/** Mounts a tmpfs of `mb` MiB at `dir` (root only; the test created `dir`). */
export async function mountSmallDisk(dir: string, mb: number): Promise<SmallDisk> {
  await run('mount', ['-t', 'tmpfs', '-o', `size=${mb}m,mode=700`, 'tmpfs', dir]);
  const filler = join(dir, 'filler');
  return {
    async fill() {
      const free = async () => {
        const s = await statfs(dir);
        return s.bavail * s.bsize;
      };
      const file = await open(filler, 'a');
      try {
        const chunk = Buffer.alloc(64 * 1024, 7);
        for (let left = (await free()) - LEFT_FREE; left > 0; left -= chunk.length) {
          await file.write(chunk, 0, Math.min(chunk.length, left));
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        await file.close();
      }
      return true;
    },
    empty: () => rm(filler, { force: true }),
    async unmount() {
      await run('umount', ['-l', dir]).catch(() => undefined);
    },
  };
}
