import { execFile } from 'node:child_process';
import { basename, dirname } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Mounts the EROFS image `file` read-only at `target`. The source is named by the file's name
 * alone (mount runs in its directory, without canonicalizing), or is the loop device the kernel
 * needs: a sandbox that binds `target` sees "/" and that neutral name in its mountinfo, never a
 * host path. The kernel mounts EROFS on a file since Linux 6.12; older ones get a loop device.
 */
export async function mountErofs(file: string, target: string): Promise<void> {
  const opts = { cwd: dirname(file) };
  try {
    await run('mount', ['--no-canonicalize', '-t', 'erofs', '-o', 'ro', basename(file), target], opts);
  } catch {
    await run('mount', ['--no-canonicalize', '-t', 'erofs', '-o', 'ro,loop', basename(file), target], opts);
  }
}

/** Detaches a mount (lazily: a sandbox may still hold it); no error if nothing is mounted there. */
export async function unmount(target: string): Promise<void> {
  await run('umount', ['-l', target]).catch(() => {});
}
