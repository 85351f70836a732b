/**
 * Sandbox-only baselines: Stratus's own BubblewrapSandboxDriver (the same cgroups and bwrap
 * argument list as a real environment: namespaces, /usr, the minimal /etc, /tmp, /var/task,
 * /var/runtime, /run/stratus) running `/bin/true`, `node -e 0`, or the Stratus Node.js runtime client with no
 * Runtime API configured (it loads all its modules, then exits 1).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BubblewrapSandboxDriver, detectCgroups, loadSeccompFilter } from '../src/sandbox/index.js';
import { resolveConfig } from '../src/shared/config.js';
import { onCleanup } from './harness.js';

/** The Stratus Node.js runtime client as built (what a real environment binds at /var/runtime). */
const NODE_RUNTIME_DIR = fileURLToPath(new URL('../src/runtimes/nodejs/', import.meta.url));

export interface SandboxFloor {
  /** Wall time from create() to the sandbox's exit, in ms; throws unless it exits `exitCode`. */
  run(command: string[], opts?: { withRuntime?: boolean; exitCode?: number }): Promise<number>;
}

export async function sandboxFloor(scratch: string): Promise<SandboxFloor> {
  const root = join(scratch, 'sandbox-floor');
  const dirs = { taskDir: join(root, 'task'), runtimeDir: join(root, 'runtime'), controlDir: join(root, 'control') };
  for (const d of Object.values(dirs)) await mkdir(d, { recursive: true, mode: 0o755 });
  await writeFile(join(dirs.taskDir, 'index.js'), 'exports.handler = async () => ({});\n');
  // Built as `stratus up` builds it: Stratus's default sandbox configuration and cgroups, in a
  // cgroup subtree of our own that is removed at the end.
  const cgroups = detectCgroups(`stratus-bench-${process.pid}`);
  onCleanup(() => cgroups.cleanup());
  const driver = new BubblewrapSandboxDriver({ ...resolveConfig({}).sandbox, cgroups, seccomp: await loadSeccompFilter() });
  let n = 0;
  return {
    async run(command, opts = {}) {
      const t0 = process.hrtime.bigint();
      const expected = opts.exitCode ?? 0;
      const sandbox = await driver
        .create({
          id: `bench-floor-${n++}`,
          ...dirs,
          ...(opts.withRuntime ? { runtimeDir: NODE_RUNTIME_DIR } : {}),
          command,
          env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
          memoryMb: 128,
          tmpSizeMb: 512,
          network: 'none',
        })
        .catch((err: unknown) => {
          // A command this short can exit before the driver has read its pid from bwrap's info
          // pipe; the driver then reports a failed create. The run itself was fine.
          const text = String(err instanceof Error ? err.message : err);
          const ranToCompletion = text.includes(`bwrap exited (${expected})`) && (expected === 0 || text.includes('stratus nodejs runtime'));
          if (ranToCompletion) return undefined;
          throw err;
        });
      if (!sandbox) return Number(process.hrtime.bigint() - t0) / 1e6;
      sandbox.stdout.resume();
      sandbox.stderr.resume();
      const exit = await sandbox.exited;
      const elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
      if (exit.code !== (opts.exitCode ?? 0)) throw new Error(`sandboxed ${command.join(' ')} exited ${exit.code ?? exit.signal}`);
      return elapsed;
    },
  };
}
