import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BubblewrapSandboxDriver, detectCgroups, loadSeccompFilter } from '../../src/sandbox/index.js';
import { systemClock } from '../../src/shared/clock.js';
import { resolveConfig } from '../../src/shared/config.js';
import { StratusError } from '../../src/shared/errors.js';
import { silentLogger } from '../../src/shared/log.js';
import { LocalWorkerAgent, openRunRoot, type LocalWorkerDeps, type TaskFiles } from '../../src/worker/index.js';

export interface LocalWorker {
  agent: LocalWorkerAgent;
  /** The code directory every function of this worker runs (bound at /var/task). */
  codeDir: string;
  stop(): Promise<void>;
}

/**
 * A LocalWorkerAgent with real bubblewrap sandboxes in a cgroup subtree of its own, as
 * `stratus up` runs one, except for its code: every function gets `files`, written to one plain
 * directory (no code store, no EROFS images). No gVisor driver. `extra` overrides its deps (e.g. a warm pool).
 */
export async function startLocalWorker(id: string, files: Record<string, string>, extra: Partial<LocalWorkerDeps> = {}): Promise<LocalWorker> {
  const config = resolveConfig({}).sandbox;
  const dir = await mkdtemp(join(tmpdir(), 'stratus-local-worker-'));
  const codeDir = join(dir, 'task');
  await mkdir(join(codeDir, 'flags'), { recursive: true, mode: 0o755 });
  await chmod(codeDir, 0o755);
  for (const [name, text] of Object.entries(files)) await writeFile(join(codeDir, name), text, { mode: 0o644 });
  const cgroups = detectCgroups(`stratus-${id}-${process.pid}`);
  const driver = new BubblewrapSandboxDriver({ ...config, cgroups, seccomp: await loadSeccompFilter() });
  const taskFiles: TaskFiles = {
    resolve: async () => codeDir,
    resolveImage: async () => {
      throw new StratusError('SandboxCreateFailed', 'this test worker runs no container images');
    },
  };
  const log = silentLogger();
  const agent = new LocalWorkerAgent({
    id, memoryMb: 4096, region: 'us-east-1', nodePath: config.nodePath, pythonPath: config.pythonPath,
    runRoot: await openRunRoot(log), driver, taskFiles, clock: systemClock, log,
    logSink: { enabled: false, write: () => {} },
    maxConcurrentBoots: 4,
    logLimits: { bytesPerSecond: 4 * 1024 * 1024, burstBytes: 8 * 1024 * 1024, bytesPerInvoke: 32 * 1024 * 1024 },
    ...extra,
  });
  return {
    agent,
    codeDir,
    async stop() {
      await agent.shutdown();
      await cgroups.cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
