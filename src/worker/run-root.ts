import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../shared/log.js';
import { NATIVE_DIR } from '../sandbox/index.js';
import { RUNTIME_SOURCES, SANDBOX_HOSTS, type RuntimeFiles } from './launch/index.js';

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
  const files: RuntimeFiles = {
    nodejs: join(path, 'runtimes', 'nodejs'), python: join(path, 'runtimes', 'python'), java: join(path, 'runtimes', 'java'),
    javaHome: findJavaHome(), init: join(path, 'rapid'), hosts: join(path, 'hosts'),
  };
  await Promise.all([
    cp(RUNTIME_SOURCES.nodejs, files.nodejs, { recursive: true, preserveTimestamps: true }),
    cp(RUNTIME_SOURCES.python, files.python, { recursive: true, preserveTimestamps: true }),
    // Built by scripts/setup.sh; without it (or without a JDK) java17 functions fail to start.
    cp(RUNTIME_SOURCES.java, files.java, { recursive: true, preserveTimestamps: true }).catch(() => mkdir(files.java, { recursive: true })),
    writeFile(files.hosts, SANDBOX_HOSTS, { mode: 0o644 }),
    mkdir(files.init, { mode: 0o755 }).then(() => cp(join(NATIVE_DIR, 'stratus-init'), join(files.init, 'stratus-init'), { preserveTimestamps: true })),
  ]);
  await Promise.all([join(path, 'runtimes'), files.nodejs, files.python, files.java].map((d) => chmod(d, 0o755)));
  return {
    path,
    files,
    async close() {
      if (mounted) await run('umount', ['-l', path]).catch(() => {});
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** Debian's OpenJDK 17 (openjdk-17-jdk-headless), if installed: /usr/lib/jvm/java-17-openjdk-<arch>. */
function findJavaHome(): string | undefined {
  const jvm = '/usr/lib/jvm';
  const names = existsSync(jvm) ? readdirSync(jvm).filter((n) => /^java-17-openjdk-[a-z0-9]+$/.test(n)).sort() : [];
  return names.map((n) => join(jvm, n)).find((home) => existsSync(join(home, 'bin', 'java')));
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
