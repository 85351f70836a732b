import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../shared/log.js';
import { NATIVE_DIR } from '../sandbox/index.js';
import { RUNTIME_SOURCES, type RuntimeFiles } from './launch/index.js';

const run = promisify(execFile);
const PREFIX = 'stratus-run-';

/**
 * The worker's run directory: sandboxes' control directories (Runtime API socket, environment
 * file), warm-pool stems' /var/task, and copies of the runtime clients and stratus-init. It is a
 * tmpfs of its own, so a sandbox's /proc/self/mountinfo names only paths inside it
 * ("/runtimes/nodejs", "/<sandbox id>"), never a host path. Unix socket paths are short-limited,
 * hence the system temp dir.
 */
export interface RunRoot {
  readonly path: string;
  /** Where the runtime clients and stratus-init are, on this tmpfs. */
  readonly files: RuntimeFiles;
  close(): Promise<void>;
}

export async function openRunRoot(log: Logger): Promise<RunRoot> {
  const path = await mkdtemp(join(tmpdir(), `${PREFIX}${process.pid}-`));
  const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'mode=0700,nosuid,nodev', 'stratus', path]).then(
    () => true,
    (err: unknown) => {
      log.warn({ err }, 'run directory: no tmpfs of its own (sandboxes will see its host path in their mountinfo)');
      return false;
    },
  );
  const files: RuntimeFiles = { nodejs: join(path, 'runtimes', 'nodejs'), python: join(path, 'runtimes', 'python'), init: join(path, 'rapid') };
  await Promise.all([
    cp(RUNTIME_SOURCES.nodejs, files.nodejs, { recursive: true, preserveTimestamps: true }),
    cp(RUNTIME_SOURCES.python, files.python, { recursive: true, preserveTimestamps: true }),
    mkdir(files.init, { mode: 0o755 }).then(() => cp(join(NATIVE_DIR, 'stratus-init'), join(files.init, 'stratus-init'), { preserveTimestamps: true })),
  ]);
  await Promise.all([join(path, 'runtimes'), files.nodejs, files.python].map((d) => chmod(d, 0o755)));
  return {
    path,
    files,
    async close() {
      if (mounted) await run('umount', ['-l', path]).catch(() => {});
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** Removes the run directories of workers that died without cleaning up (SIGKILL). */
export async function removeStaleRunDirs(): Promise<void> {
  for (const name of await readdir(tmpdir())) {
    const pid = /^stratus-(?:run|chunks)-(\d+)-/.exec(name)?.[1];
    if (!pid || existsSync(`/proc/${pid}`)) continue;
    if (name.startsWith(PREFIX)) await run('umount', ['-l', join(tmpdir(), name)]).catch(() => {});
    await rm(join(tmpdir(), name), { recursive: true, force: true });
  }
}
