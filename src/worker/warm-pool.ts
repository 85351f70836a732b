import { randomUUID } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readlink, stat, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { Leases } from './cache-leases.js';
import type { TaskFiles } from './code-cache.js';
import type { EnvironmentSpec, RuntimeId } from './environment-spec.js';
import type { BareRuntime } from './launch/index.js';
import { makeStemTaskDir, type EnvironmentIdentity, type Slot } from './slots.js';

/** The runtimes a stem can be booted as (each has a runtime client that waits to be specialized). */
export const STEM_RUNTIMES: readonly RuntimeId[] = ['nodejs20.x', 'python3.11'];
const STEM_STORAGE_MB = 512;
/** Variables the dynamic loader and glibc read only as a process starts (LD_PRELOAD, LD_LIBRARY_PATH, tunables, malloc's). */
const loaderVariable = (name: string) => name.startsWith('LD_') || name === 'GLIBC_TUNABLES' || name.startsWith('MALLOC_');
/**
 * Variables the interpreter (or its loader) reads only as it starts (a stem has started already):
 * a function that sets one gets a runtime of its own instead of a stem.
 */
const STARTUP_VARIABLES: Record<string, (name: string) => boolean> = {
  'nodejs20.x': (name) => name === 'NODE_OPTIONS' || name === 'NODE_PATH' || name === 'UV_THREADPOOL_SIZE' || loaderVariable(name),
  'python3.11': (name) => name.startsWith('PYTHON') || name.startsWith('LC_') || name === 'LANG' || loaderVariable(name),
};

export interface WarmPoolDeps {
  /** Stems kept booted of each runtime. */
  size: number;
  /** Which runtimes (of STEM_RUNTIMES) the pool keeps stems of. */
  runtimes: readonly RuntimeId[];
  memoryMb: number;
  /** The run directory's path (stems' task directories). */
  runRoot: string;
  taskFiles: TaskFiles;
  log: Logger;
  /** Boots a stem: `bare` in a sandbox of the installation's driver, with `taskDir` as its (empty) /var/task. */
  boot(id: string, who: EnvironmentIdentity, bare: BareRuntime, taskDir: string): Promise<Slot>;
  destroy(id: string): Promise<void>;
}

/**
 * The warm pool: stems, runtimes (Node.js, Python) booted ahead of time with an empty
 * /var/task, each waiting (GET /2018-06-01/stratus/specialization) to be given a function of
 * the pool's shape and its runtime.
 */
export class WarmPool {
  private readonly stems = new Map<RuntimeId, Slot[]>();
  private readonly booting = new Map<RuntimeId, number>();
  private closing = false;

  constructor(private readonly deps: WarmPoolDeps) {
    for (const runtime of deps.runtimes) {
      if (!STEM_RUNTIMES.includes(runtime)) throw new StratusError('InvalidConfig', `The warm pool cannot keep ${runtime} runtimes (it can: ${STEM_RUNTIMES.join(', ')})`);
      this.stems.set(runtime, []);
      this.booting.set(runtime, 0);
    }
  }

  /** Keeps `size` stems of each runtime booted. */
  fill(): void {
    for (const runtime of this.stems.keys()) this.fillRuntime(runtime);
  }

  private fillRuntime(runtime: RuntimeId): void {
    const { deps } = this;
    const stems = this.stems.get(runtime) ?? [];
    const count = () => this.booting.get(runtime) ?? 0;
    while (!this.closing && stems.length + count() < deps.size) {
      this.booting.set(runtime, count() + 1);
      const id = randomUUID();
      void (async () => {
        const taskDir = await makeStemTaskDir(deps.runRoot, id);
        const who = { functionName: '(warm-pool)', version: '$LATEST', runtime, memoryMb: deps.memoryMb, timeoutMs: 900_000 };
        const slot = await deps.boot(id, who, { runtime, memoryMb: deps.memoryMb }, taskDir);
        if (this.closing) await deps.destroy(id);
        else stems.push(slot);
      })()
        .catch((err: unknown) => deps.log.warn({ err, runtime }, 'warm pool: a stem failed to boot'))
        .finally(() => this.booting.set(runtime, count() - 1));
    }
  }

  /** Whether a stem can become an environment of `spec` (on the installation's own driver). */
  fits(spec: EnvironmentSpec, onDefaultDriver: boolean): boolean {
    if (spec.package.type !== 'Zip' || !this.stems.has(spec.package.runtime)) return false;
    const startupOnly = STARTUP_VARIABLES[spec.package.runtime];
    return spec.memoryMb === this.deps.memoryMb
      && spec.ephemeralStorageMb === STEM_STORAGE_MB && spec.network === 'none' && onDefaultDriver && !spec.layers
      && spec.environment?.AWS_LAMBDA_EXEC_WRAPPER === undefined
      && !Object.keys(spec.environment ?? {}).some((name) => startupOnly?.(name));
  }

  /**
   * A booted stem of `runtime`, if one is alive. It leaves the pool for good: once given a
   * function it is that function's environment until destroyed. Its replacement is booted
   * (fill()) once the cold start that took it is answered: booting one spawns a sandbox, which
   * blocks the worker's event loop for the fork, on that cold start's path otherwise (a keep-alive
   * pre-warm's at once: no invoke waits on it, and its first may come hours later).
   */
  take(runtime: RuntimeId): Slot | undefined {
    const stem = this.stems.get(runtime)?.shift();
    if (stem?.env.alive) return stem;
    this.fillRuntime(runtime);
    return undefined;
  }

  /** Puts `spec`'s code into a stem's (bound, still empty) /var/task. */
  async load(stem: Slot, spec: EnvironmentSpec): Promise<void> {
    if (!stem.stemTaskDir) throw new StratusError('Internal', `warm-pool stem ${stem.id} has no task directory`);
    // A copy: the code's cache entry is held only while it is copied.
    const held = new Leases();
    try {
      await copyTree(await this.deps.taskFiles.resolve(spec.accountId, spec.package.code, held), stem.stemTaskDir);
    } finally {
      held.releaseAll();
    }
  }

  /** Whether `slot` is a stem waiting in the pool. */
  holds(slot: Slot): boolean {
    return [...this.stems.values()].some((stems) => stems.includes(slot));
  }

  /** A pooled stem died: it leaves the pool (and is replaced). False if `slot` was not pooled. */
  lost(slot: Slot): boolean {
    for (const stems of this.stems.values()) {
      const pooled = stems.indexOf(slot);
      if (pooled < 0) continue;
      stems.splice(pooled, 1);
      void this.deps.destroy(slot.id).then(() => this.fill());
      return true;
    }
    return false;
  }

  /** Stops booting stems; the agent destroys the booted ones with its other environments. */
  close(): void {
    this.closing = true;
    for (const stems of this.stems.values()) stems.length = 0;
  }
}

/**
 * Copies the code's tree into a stem's (existing) /var/task: files with their mode and times (a
 * .pyc is checked against its source's mtime), directories likewise, symlinks as links; entries
 * in parallel. fs.cp does the same at ~4x the cost, on every warm-pool cold start's path.
 */
async function copyTree(src: string, dst: string): Promise<void> {
  const entries = await readdir(src, { withFileTypes: true });
  await Promise.all(entries.map(async (entry) => {
    const from = join(src, entry.name);
    const to = join(dst, entry.name);
    if (entry.isSymbolicLink()) return symlink(await readlink(from), to);
    if (entry.isDirectory()) {
      await mkdir(to);
      await copyTree(from, to);
    } else if (entry.isFile()) {
      await copyFile(from, to);
    } else {
      return;
    }
    const st = await stat(from);
    await chmod(to, st.mode & 0o7777);
    await utimes(to, st.atime, st.mtime);
  }));
}
