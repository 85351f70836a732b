import { randomUUID } from 'node:crypto';
import { cp } from 'node:fs/promises';
import { StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { Leases } from './cache-leases.js';
import type { TaskFiles } from './code-cache.js';
import type { EnvironmentSpec } from './environment-spec.js';
import type { BareRuntime } from './launch/index.js';
import { makeStemTaskDir, type EnvironmentIdentity, type Slot } from './slots.js';

/** What a stem is booted as until it is specialized: a Node.js runtime of the pool's memory size. */
const STEM_RUNTIME = 'nodejs20.x';
const STEM_STORAGE_MB = 512;

export interface WarmPoolDeps {
  size: number;
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
 * The warm pool: stems, Node.js runtimes booted ahead of time with an empty /var/task, each
 * waiting (GET /2018-06-01/stratus/specialization) to be given a function of the pool's shape.
 */
export class WarmPool {
  private readonly stems: Slot[] = [];
  private booting = 0;
  private closing = false;

  constructor(private readonly deps: WarmPoolDeps) {}

  /** Keeps `size` stems booted. */
  fill(): void {
    const { deps } = this;
    if (this.closing) return;
    while (this.stems.length + this.booting < deps.size) {
      this.booting++;
      const id = randomUUID();
      void (async () => {
        const taskDir = await makeStemTaskDir(deps.runRoot, id);
        const who = { functionName: '(warm-pool)', version: '$LATEST', runtime: STEM_RUNTIME, memoryMb: deps.memoryMb, timeoutMs: 900_000 };
        const slot = await deps.boot(id, who, { runtime: STEM_RUNTIME, memoryMb: deps.memoryMb }, taskDir);
        if (this.closing) await deps.destroy(id);
        else this.stems.push(slot);
      })()
        .catch((err: unknown) => deps.log.warn({ err }, 'warm pool: a stem failed to boot'))
        .finally(() => this.booting--);
    }
  }

  /** Whether a stem can become an environment of `spec` (on the installation's own driver). */
  fits(spec: EnvironmentSpec, onDefaultDriver: boolean): boolean {
    return spec.package.type === 'Zip' && spec.package.runtime === STEM_RUNTIME && spec.memoryMb === this.deps.memoryMb
      && spec.ephemeralStorageMb === STEM_STORAGE_MB && spec.network === 'none' && onDefaultDriver && !spec.layers
      && spec.environment?.AWS_LAMBDA_EXEC_WRAPPER === undefined;
  }

  /**
   * A booted stem, if one is alive (the pool starts booting its replacement). It leaves the pool
   * for good: once given a function it is that function's environment until destroyed.
   */
  take(): Slot | undefined {
    const stem = this.stems.shift();
    this.fill();
    return stem?.env.alive ? stem : undefined;
  }

  /** Puts `spec`'s code into a stem's (bound, still empty) /var/task. */
  async load(stem: Slot, spec: EnvironmentSpec): Promise<void> {
    if (!stem.stemTaskDir) throw new StratusError('Internal', `warm-pool stem ${stem.id} has no task directory`);
    // A copy: the code's cache entry is held only while it is copied.
    const held = new Leases();
    try {
      await cp(await this.deps.taskFiles.resolve(spec.accountId, spec.package.code, held), stem.stemTaskDir, { recursive: true, preserveTimestamps: true });
    } finally {
      held.releaseAll();
    }
  }

  /** Whether `slot` is a stem waiting in the pool. */
  holds(slot: Slot): boolean {
    return this.stems.includes(slot);
  }

  /** A pooled stem died: it leaves the pool (and is replaced). False if `slot` was not pooled. */
  lost(slot: Slot): boolean {
    const pooled = this.stems.indexOf(slot);
    if (pooled < 0) return false;
    this.stems.splice(pooled, 1);
    void this.deps.destroy(slot.id).then(() => this.fill());
    return true;
  }

  /** Stops booting stems; the agent destroys the booted ones with its other environments. */
  close(): void {
    this.closing = true;
    this.stems.length = 0;
  }
}
