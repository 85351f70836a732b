import { randomUUID } from 'node:crypto';
import { chmod, cp, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';
import { StratusError } from '../shared/errors.js';
import type { Sandbox, SandboxDriver, SandboxSpec } from '../sandbox/index.js';
import type { CodeRef } from '../codestore/index.js';
import type { FunctionVersion } from '../registry/index.js';
import type { EnvironmentOptions, EnvironmentReport, WorkerAgent, WorkerStatus } from './agent.js';
import type { TaskFiles } from './code-cache.js';
import { BootGate } from './boot-gate.js';
import { Environment, type FunctionLogSink } from './environment.js';
import type { Invocation, InvocationResult } from './invocation.js';
import { RuntimeApiServer } from './runtime-api.js';
import { launchFor } from './runtimes.js';
import type { RunRoot } from './run-root.js';
import type { LogLimits } from './log-budget.js';
import { packSnapshot, SnapshotBoot, type SnapshotCache } from './snapshots.js';

export interface LocalWorkerDeps {
  id: string;
  memoryMb: number;
  region: string;
  nodePath: string;
  pythonPath: string;
  /** The run directory: control directories, stems' task dirs, the runtime clients (closed by shutdown). */
  runRoot: RunRoot;
  /** The installation's sandbox driver. */
  driver: SandboxDriver;
  /** The gVisor driver, for functions tagged stratus:sandbox=gvisor (absent: this worker has none). */
  gvisorDriver?: SandboxDriver;
  taskFiles: TaskFiles;
  clock: Clock;
  log: Logger;
  logSink: FunctionLogSink;
  initTimeoutMs?: number;
  /** Sandboxes booting at once (from spawn to the runtime's first /next). */
  maxConcurrentBoots: number;
  /** SnapStart snapshots unpacked on this worker (when the driver can checkpoint). */
  snapshotCache?: SnapshotCache;
  /** Stems kept booted for Node.js functions of this memory size (none when absent). */
  warmPool?: { size: number; memoryMb: number };
  /** An idle environment is frozen after this long (undefined: never). */
  freezeIdleAfterMs?: number;
  /** Function output allowed per environment. */
  logLimits: LogLimits;
}

interface Slot {
  /** The environment id; a warm-pool stem takes its environment's id when specialized. */
  id: string;
  env: Environment;
  api: RuntimeApiServer;
  controlDir: string;
  memoryMb: number;
  /** A stem's /var/task, empty until it is given a function. */
  stemTaskDir?: string;
}

/** A function no one has: what a warm-pool stem is booted as until it is specialized. */
function stemFunction(memoryMb: number): FunctionVersion {
  return {
    name: '(warm-pool)', runtime: 'nodejs20.x', role: '', handler: '', description: '', timeoutSec: 900, memoryMb,
    ephemeralStorageMb: 512, environment: {}, code: { sha256: '', size: 0 }, lastModifiedMs: 0, revisionId: 'warm-pool',
    version: '$LATEST', functionArn: '',
  };
}

type InitType = 'on-demand' | 'provisioned-concurrency';

const MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100;

/** The worker agent of this host: sandboxes, their Runtime API endpoints and the code cache. */
export class LocalWorkerAgent implements WorkerAgent {
  readonly id: string;
  private readonly slots = new Map<string, Slot>();
  private readonly cachedCode = new Set<string>();
  private readonly lostListeners: ((envId: string) => void)[] = [];
  private readonly bootGate: BootGate;
  private readonly stems: Slot[] = [];
  private stemsBooting = 0;
  private closing = false;

  constructor(private readonly deps: LocalWorkerDeps) {
    this.id = deps.id;
    this.bootGate = new BootGate(deps.maxConcurrentBoots);
  }

  async createEnvironment(envId: string, fn: FunctionVersion, opts: EnvironmentOptions = {}): Promise<void> {
    if (this.slots.has(envId)) throw new StratusError('Internal', `environment ${envId} exists`);
    const initType = opts.initType ?? 'on-demand';
    // A snapshot's sandbox has no outbound network: a function tagged for it since boots instead.
    const image = fn.snapshot?.status === 'ready' && !wantsNetwork(fn) ? fn.snapshot.image : undefined;
    const stem = initType === 'on-demand' && !image && this.fitsWarmPool(fn) ? this.takeStem() : undefined;
    if (stem) return this.specialize(stem, envId, fn);
    if (image && (await this.restore(envId, fn, initType, image))) return;
    await this.boot(envId, fn, initType);
  }

  /**
   * SnapStart: a clone of the version's snapshot in a fresh sandbox instead of a boot. False
   * (and nothing left behind) when it cannot be restored: the caller boots as usual.
   */
  private async restore(id: string, fn: FunctionVersion, initType: InitType, image: CodeRef): Promise<boolean> {
    const snapshots = this.driverFor(fn)?.snapshots;
    const cache = this.deps.snapshotCache;
    if (!snapshots || !cache) return false;
    const startedAt = this.deps.clock.monotonic();
    const { slot, booted } = await this.openSlot(id, fn, initType, { restored: initType === 'on-demand' });
    try {
      const [imageDir, taskDir] = await Promise.all([cache.resolve(image), this.deps.taskFiles.resolve(fn.code)]);
      const spec = this.sandboxSpec(id, fn, 'snap-start', slot.controlDir, { taskDir });
      // The clone keeps the environment of its snapshot (criu itself runs with the launchers' fixed one).
      const sandbox = await snapshots.restore(spec, { dir: imageDir });
      slot.env.attach(sandbox, startedAt);
      this.deps.log.debug({ envId: id, fn: fn.name, pid: sandbox.pid }, 'sandbox restored');
      return true;
    } catch (err) {
      booted();
      await this.destroyEnvironment(id);
      this.deps.log.warn({ err, fn: fn.name, version: fn.version }, 'SnapStart restore failed; booting instead');
      return false;
    }
  }

  /**
   * SnapStart on publish: boots `fn` in a checkpointable sandbox, runs its initialization and
   * checkpoints it when the runtime first asks for work. Returns the snapshot as a tar for the
   * code store (this worker keeps it unpacked); rejects with SnapshotFailed and the reason.
   */
  async createSnapshot(fn: FunctionVersion): Promise<{ tar: Buffer; sha256: string }> {
    const driver = this.requireDriver(fn);
    const snapshots = driver.snapshots;
    const cache = this.deps.snapshotCache;
    const unavailable = snapshots && cache ? await snapshots.unavailableReason() : `Sandboxes of the ${driver.name} driver cannot be checkpointed`;
    if (unavailable || !snapshots || !cache) throw new StratusError('SnapshotFailed', unavailable ?? 'no snapshot support');
    if (wantsNetwork(fn)) throw new StratusError('SnapshotFailed', 'A sandbox with outbound network (tag stratus:network=outbound) cannot be checkpointed');
    if (fn.image) throw new StratusError('SnapshotFailed', 'Stratus SnapStart does not support container image functions yet');
    const id = randomUUID();
    const controlDir = join(this.deps.runRoot.path, id.slice(0, 12));
    await mkdir(controlDir, { mode: 0o755 });
    const boot = new SnapshotBoot();
    const api = new RuntimeApiServer(join(controlDir, 'runtime.sock'), boot, MAX_RESPONSE_BYTES);
    const dir = await cache.scratch();
    let sandbox: Sandbox | undefined;
    try {
      await api.listen();
      await chmod(join(controlDir, 'runtime.sock'), 0o666);
      const spec = this.sandboxSpec(id, fn, 'snap-start', controlDir, { taskDir: await this.deps.taskFiles.resolve(fn.code) });
      sandbox = await driver.create(spec);
      const output: string[] = [];
      sandbox.stdout.on('data', (d: Buffer) => output.push(d.toString()));
      void sandbox.exited.then((e) => boot.fail(`The runtime exited during initialization (${e.code ?? e.signal})${output.length ? `: ${output.join('').slice(-512)}` : ''}`));
      const timer = this.deps.clock.setTimer(this.deps.initTimeoutMs ?? 10_000, () => boot.fail('The function initialization timed out'));
      await boot.ready.finally(() => timer.cancel());
      await snapshots.checkpoint(sandbox, spec, dir);
      const packed = await packSnapshot(dir);
      await cache.adopt(dir, packed.sha256);
      return packed;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    } finally {
      await sandbox?.destroy();
      await api.close();
      await rm(controlDir, { recursive: true, force: true });
    }
  }

  /** Boots a sandbox for `fn`; a warm-pool stem boots the runtime alone, into an empty /var/task. */
  private async boot(id: string, fn: FunctionVersion, initType: InitType, stemTaskDir?: string): Promise<Slot> {
    const { slot, booted } = await this.openSlot(id, fn, initType, { stemTaskDir });
    try {
      const files = stemTaskDir ? { taskDir: stemTaskDir } : await this.filesOf(fn);
      if (!stemTaskDir) this.cachedCode.add(fn.code.sha256);
      const spec = this.sandboxSpec(id, fn, initType, slot.controlDir, files);
      const sandbox = await this.requireDriver(fn).create(stemTaskDir ? { ...spec, env: { ...spec.env, STRATUS_WARM_POOL: '1' } } : spec);
      slot.env.attach(sandbox);
      this.deps.log.debug({ envId: id, fn: fn.name, pid: sandbox.pid }, 'sandbox started');
      return slot;
    } catch (err) {
      booted();
      await this.destroyEnvironment(id);
      throw err;
    }
  }

  /** A slot for a new environment: its control directory, Environment and Runtime API socket. */
  private async openSlot(id: string, fn: FunctionVersion, initType: InitType, extra: { stemTaskDir?: string; restored?: boolean }): Promise<{ slot: Slot; booted: () => void }> {
    const controlDir = join(this.deps.runRoot.path, id.slice(0, 12));
    await mkdir(controlDir, { mode: 0o755 });
    const booted = await this.bootGate.enter();
    const slot = { id, controlDir, memoryMb: fn.memoryMb, stemTaskDir: extra.stemTaskDir } as Slot;
    slot.env = new Environment({
      id,
      functionName: fn.name,
      version: fn.version,
      runtime: fn.runtime ?? 'image',
      memoryMb: fn.memoryMb,
      timeoutMs: fn.timeoutSec * 1000,
      initTimeoutMs: this.deps.initTimeoutMs ?? 10_000,
      maxResponseBytes: MAX_RESPONSE_BYTES,
      clock: this.deps.clock,
      logSink: this.deps.logSink,
      onDeath: () => this.lost(slot),
      onInitialized: booted,
      reportsInit: initType === 'on-demand',
      restored: extra.restored,
      freezeAfterMs: this.deps.freezeIdleAfterMs,
      logLimits: this.deps.logLimits,
    });
    slot.api = new RuntimeApiServer(join(controlDir, 'runtime.sock'), slot.env, MAX_RESPONSE_BYTES);
    this.slots.set(id, slot);
    try {
      await slot.api.listen();
      await chmod(join(controlDir, 'runtime.sock'), 0o666);
    } catch (err) {
      booted();
      await this.destroyEnvironment(id);
      throw err;
    }
    return { slot, booted };
  }

  /** A zip's unpacked directory, or an image's lazily mounted root filesystem. */
  private async filesOf(fn: FunctionVersion): Promise<{ taskDir: string; rootDir?: string }> {
    if (!fn.image) return { taskDir: await this.deps.taskFiles.resolve(fn.code) };
    const rootDir = await this.deps.taskFiles.resolveImage(fn.image.digest);
    return { taskDir: join(rootDir, 'var/task'), rootDir };
  }

  private sandboxSpec(id: string, fn: FunctionVersion, initType: InitType | 'snap-start', controlDir: string, files: { taskDir: string; rootDir?: string }): SandboxSpec {
    const launch = launchFor(fn, this.launchContext(id, fn, initType));
    return {
      id,
      ...files,
      workingDir: launch.workingDir,
      runtimeDir: launch.runtimeDir,
      binds: launch.binds,
      controlDir,
      command: launch.command,
      env: launch.env,
      memoryMb: fn.memoryMb,
      tmpSizeMb: fn.ephemeralStorageMb,
      network: wantsNetwork(fn) ? 'outbound' : 'none',
      checkpointable: initType === 'snap-start',
    };
  }

  private launchContext(id: string, fn: FunctionVersion, initType: InitType | 'snap-start') {
    return {
      region: this.deps.region,
      files: this.deps.runRoot.files,
      nodePath: this.deps.nodePath,
      pythonPath: this.deps.pythonPath,
      runtimeApiHost: '127.0.0.1',
      runtimeApiPort: 9001,
      runtimeApiSocket: '/run/stratus/runtime.sock',
      logStreamName: logStreamName(this.deps.clock.now(), fn.version, id),
      initType,
    };
  }

  /**
   * The installation's driver, or gVisor for a function tagged stratus:sandbox=gvisor: a tag can
   * only ask for the stronger sandbox, never leave the one the installation chose.
   */
  private driverFor(fn: FunctionVersion): SandboxDriver | undefined {
    return fn.tags?.['stratus:sandbox'] === 'gvisor' ? this.deps.gvisorDriver : this.deps.driver;
  }

  private requireDriver(fn: FunctionVersion): SandboxDriver {
    const driver = this.driverFor(fn);
    if (!driver) throw new StratusError('SandboxCreateFailed', `Function ${fn.name} is tagged stratus:sandbox=gvisor, but this worker has no gVisor (runsc) driver`);
    return driver;
  }

  private lost(slot: Slot): void {
    const pooled = this.stems.indexOf(slot);
    if (pooled >= 0) {
      this.stems.splice(pooled, 1);
      void this.destroyEnvironment(slot.id).then(() => this.fillWarmPool());
      return;
    }
    if (this.slots.get(slot.id) === slot) for (const listener of this.lostListeners) listener(slot.id);
  }

  // --- warm pool ---------------------------------------------------------------------------

  /** Keeps `warmPool.size` stems booted: runtimes waiting for a function (Node.js, one memory size). */
  fillWarmPool(): void {
    const pool = this.deps.warmPool;
    if (!pool || this.closing) return;
    while (this.stems.length + this.stemsBooting < pool.size) {
      this.stemsBooting++;
      const id = randomUUID();
      void (async () => {
        const taskDir = join(this.deps.runRoot.path, `${id.slice(0, 12)}-task`);
        await mkdir(taskDir, { mode: 0o755 });
        const slot = await this.boot(id, stemFunction(pool.memoryMb), 'on-demand', taskDir);
        if (this.closing) await this.destroyEnvironment(id);
        else this.stems.push(slot);
      })()
        .catch((err: unknown) => this.deps.log.warn({ err }, 'warm pool: a stem failed to boot'))
        .finally(() => this.stemsBooting--);
    }
  }

  private fitsWarmPool(fn: FunctionVersion): boolean {
    const pool = this.deps.warmPool;
    return !!pool && fn.runtime === 'nodejs20.x' && fn.memoryMb === pool.memoryMb && fn.ephemeralStorageMb === 512 && !wantsNetwork(fn)
      && this.driverFor(fn) === this.deps.driver;
  }

  private takeStem(): Slot | undefined {
    const stem = this.stems.shift();
    this.fillWarmPool();
    return stem?.env.alive ? stem : undefined;
  }

  /** Gives a stem its function: the code goes into its (bound, still empty) /var/task. */
  private async specialize(stem: Slot, envId: string, fn: FunctionVersion): Promise<void> {
    try {
      await cp(await this.deps.taskFiles.resolve(fn.code), stem.stemTaskDir ?? '', { recursive: true, preserveTimestamps: true });
      this.cachedCode.add(fn.code.sha256);
    } catch (err) {
      await this.destroyEnvironment(stem.id);
      throw err;
    }
    this.slots.delete(stem.id);
    stem.id = envId;
    stem.memoryMb = fn.memoryMb;
    this.slots.set(envId, stem);
    const { env } = launchFor(fn, this.launchContext(envId, fn, 'on-demand'));
    stem.env.specialize({ id: envId, functionName: fn.name, version: fn.version, runtime: fn.runtime ?? 'image', memoryMb: fn.memoryMb, timeoutMs: fn.timeoutSec * 1000 }, env);
  }

  invoke(envId: string, invocation: Invocation): Promise<InvocationResult> {
    const slot = this.slots.get(envId);
    if (!slot) return Promise.reject(new StratusError('Internal', `no environment ${envId} on worker ${this.id}`));
    return slot.env.invoke(invocation);
  }

  async destroyEnvironment(envId: string): Promise<void> {
    const slot = this.slots.get(envId);
    if (!slot) return;
    this.slots.delete(envId);
    await slot.env.destroy();
    await slot.api.close();
    await rm(slot.controlDir, { recursive: true, force: true });
    if (slot.stemTaskDir) await rm(slot.stemTaskDir, { recursive: true, force: true });
  }

  onEnvironmentLost(listener: (envId: string) => void): void {
    this.lostListeners.push(listener);
  }

  /** In-process, the epoch needs no enforcing: the worker API server fences remote callers. */
  async environments(): Promise<EnvironmentReport[]> {
    return [...this.slots].filter(([, slot]) => slot.env.alive && !this.stems.includes(slot)).map(([envId, slot]) => ({ envId, busy: slot.env.busy }));
  }

  status(): WorkerStatus {
    let reserved = 0;
    for (const slot of this.slots.values()) reserved += slot.memoryMb;
    return {
      id: this.id,
      memoryMb: this.deps.memoryMb,
      memoryReservedMb: reserved,
      environments: this.slots.size,
      cachedCode: [...this.cachedCode],
    };
  }

  async shutdown(): Promise<void> {
    this.closing = true;
    this.stems.length = 0;
    await Promise.all([...this.slots.keys()].map((id) => this.destroyEnvironment(id)));
    await this.deps.runRoot.close();
  }
}

function wantsNetwork(fn: FunctionVersion): boolean {
  return fn.tags?.['stratus:network'] === 'outbound';
}

function logStreamName(nowMs: number, version: string, envId: string): string {
  const day = new Date(nowMs).toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/[${version}]${envId.replaceAll('-', '').slice(0, 32)}`;
}
