import { join } from 'node:path';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';
import type { Metrics } from '../shared/metrics.js';
import { StratusError } from '../shared/errors.js';
import {
  ATTR, ATTR_CLOUD_ACCOUNT_ID, ATTR_FAAS_INVOCATION_ID, ATTR_FAAS_NAME, ATTR_FAAS_VERSION, NO_TRACER, type TraceSpan, type Tracer,
} from '../shared/tracing.js';
import type { SandboxDriver, SandboxSpec } from '../sandbox/index.js';
import { INIT_TIMEOUT_MS, type EnvironmentOptions, type EnvironmentReport, type WorkerAgent, type WorkerStatus } from './agent.js';
import { functionFiles, type TaskFiles } from './code-cache.js';
import { BootGate } from './boot-gate.js';
import { Leases } from './cache-leases.js';
import { Environment } from './environment.js';
import type { EnvironmentSpec, RuntimeId } from './environment-spec.js';
import type { Invocation, InvocationResult } from './invocation.js';
import { SandboxLauncher, type BareRuntime, type InitType } from './launch/index.js';
import type { RunRoot } from './run-root.js';
import type { LogLimits } from './log-budget.js';
import { logGroupOf, logStreamName, type FunctionLogSink } from './log-shipper.js';
import {
  closeSlot, makeControlDir, invocationRefusal, MAX_RESPONSE_BYTES, runtimeApiIn, serveRuntimeApi, type ColdStart, type EnvironmentIdentity, type Slot, type SlotOwner,
} from './slots.js';
import type { SnapshotCache } from './snapshots.js';
import { SnapStartBoots } from './snapstart-boot.js';
import { destroyClone } from './snapstart-clones.js';
import { WarmPool } from './warm-pool.js';
import { externalExtensions } from './extensions.js';
import { extensionInfo } from './environment-extensions.js';
import { TelemetryRelay } from './telemetry-relay.js';

export interface LocalWorkerDeps {
  id: string;
  /** The zone this worker reports (placement spreads a function's environments across zones). */
  zone?: string;
  memoryMb: number;
  region: string;
  nodePath: string;
  pythonPath: string;
  /** The run directory: control directories, stems' task dirs, the runtime clients (closed by shutdown). */
  runRoot: RunRoot;
  /** The installation's sandbox driver, and the gVisor one for functions tagged stratus:sandbox=gvisor (absent: this worker has none). */
  driver: SandboxDriver;
  gvisorDriver?: SandboxDriver;
  taskFiles: TaskFiles;
  clock: Clock;
  log: Logger;
  logSink: FunctionLogSink;
  initTimeoutMs?: number;
  /** Sandboxes booting at once (from spawn to the runtime's first /next). */
  maxConcurrentBoots: number;
  /** SnapStart snapshots unpacked on this worker (when the driver can checkpoint), and the clones kept restored (frozen) per version once restored (default 1; 0: none). */
  snapshotCache?: SnapshotCache;
  snapStartClones?: number;
  /** `size` stems of each of `runtimes` (default: Node.js only) kept booted for functions of this memory size (none when absent). */
  warmPool?: { size: number; memoryMb: number; runtimes?: readonly RuntimeId[] };
  /** An idle environment is frozen after this long (undefined: never); function output allowed per environment. */
  freezeIdleAfterMs?: number;
  logLimits: LogLimits;
  /** Where completed inits are counted (cold starts by kind, init durations), and spans of traced creations, inits and invocations (none: NO_TRACER). */
  metrics?: Metrics;
  tracer?: Tracer;
}

/**
 * The worker agent of this host: sandboxes, their Runtime API endpoints and the code cache. A
 * cold start takes a warm-pool stem (warm-pool.ts), restores a SnapStart clone (snapstart-boot.ts)
 * or boots; each environment is a slot with its run directories (slots.ts).
 */
export class LocalWorkerAgent implements WorkerAgent {
  readonly id: string;
  private readonly slots = new Map<string, Slot>();
  private readonly lostListeners: ((envId: string) => void)[] = [];
  private readonly bootGate: BootGate;
  private readonly launcher: SandboxLauncher;
  private readonly snapStart: SnapStartBoots;
  private readonly pool: WarmPool | undefined;
  private readonly initTimeoutMs: number;
  private readonly tracer: Tracer;

  constructor(private readonly deps: LocalWorkerDeps) {
    this.id = deps.id;
    this.tracer = deps.tracer ?? NO_TRACER;
    this.bootGate = new BootGate(deps.maxConcurrentBoots);
    this.initTimeoutMs = deps.initTimeoutMs ?? INIT_TIMEOUT_MS;
    this.launcher = new SandboxLauncher({ ...deps, files: deps.runRoot.files });
    const runRoot = deps.runRoot.path;
    this.snapStart = new SnapStartBoots({
      ...deps, launcher: this.launcher, runRoot, initTimeoutMs: this.initTimeoutMs, clonesPerVersion: deps.snapStartClones,
      bootGate: this.bootGate, freeMb: () => deps.memoryMb - this.reservedMb(),
    });
    this.pool = deps.warmPool && new WarmPool({
      ...deps.warmPool, runtimes: deps.warmPool.runtimes ?? ['nodejs20.x'], runRoot, taskFiles: deps.taskFiles, log: deps.log,
      boot: (id, who, bare, taskDir) => this.bootStem(id, who, bare, taskDir),
      destroy: (id) => this.destroyEnvironment(id),
    });
  }

  /** Traced (when `opts.trace` is set) as worker.create_environment, or worker.restore_environment for a SnapStart clone. */
  async createEnvironment(envId: string, spec: EnvironmentSpec, opts: EnvironmentOptions = {}): Promise<void> {
    const span = opts.trace !== undefined && this.tracer.enabled ? this.tracer.start('worker.create_environment', opts.trace, {
      attributes: {
        [ATTR.environmentId]: envId, [ATTR.workerId]: this.id, [ATTR.initType]: opts.initType ?? 'on-demand',
        [ATTR_CLOUD_ACCOUNT_ID]: spec.accountId, [ATTR_FAAS_NAME]: spec.functionName, [ATTR_FAAS_VERSION]: spec.version,
      },
    }) : undefined;
    try {
      await this.create(envId, spec, opts, span?.traceparent);
      const kind = this.slots.get(envId)?.coldStart?.kind;
      if (kind) span?.set({ [ATTR.startKind]: kind });
      if (kind === 'snapstart') span?.rename('worker.restore_environment');
    } catch (err) {
      span?.fail(err);
      throw err;
    } finally {
      span?.end();
    }
  }

  /** `trace`: the span the environment's init is traced under. */
  private async create(envId: string, spec: EnvironmentSpec, opts: EnvironmentOptions, trace: string | undefined): Promise<void> {
    if (this.slots.has(envId)) throw new StratusError('Internal', `environment ${envId} exists`);
    const initType = opts.initType ?? 'on-demand';
    const image = this.snapStart.snapshotFor(spec);
    const onDefaultDriver = this.launcher.driverFor(spec) === this.launcher.defaultDriver;
    const stem = initType === 'on-demand' && !image && this.pool?.fits(spec, onDefaultDriver) && spec.package.type === 'Zip' ? this.pool.take(spec.package.runtime) : undefined;
    if (stem) return this.specialize(stem, envId, spec, trace, opts.prewarm === true);
    // Pre-restored clones are a cache: they give way to an environment that needs their memory.
    this.snapStart.makeRoom(spec, this.deps.memoryMb - this.reservedMb());
    const provisioned = initType === 'provisioned-concurrency';
    if (image && (await this.restore(envId, spec, initType, image, coldStartOf(spec, provisioned ? 'provisioned' : 'snapstart', trace)))) return;
    const kind = provisioned ? 'provisioned' : spec.package.type === 'Image' ? 'image' : 'boot';
    await this.boot(envId, identityOf(spec, envId, this.deps.clock.now()), initType, async (slot) => {
      slot.owner = ownerOf(spec);
      const files = await functionFiles(this.deps.taskFiles, spec, slot.leases);
      slot.env.extensionsApi.expect(await externalExtensions(files.optDir ?? (files.rootDir && join(files.rootDir, 'opt'))), extensionInfo(spec));
      return { driver: this.launcher.requireDriver(spec), sandbox: this.launcher.sandboxSpec(envId, spec, initType, slot.controlDir, files) };
    }, { coldStart: coldStartOf(spec, kind, trace) });
  }

  /**
   * SnapStart: a clone of the version's snapshot in a fresh sandbox instead of a boot. False
   * (and nothing left behind) when it cannot be restored: the caller boots as usual.
   */
  private async restore(id: string, spec: EnvironmentSpec, initType: InitType, image: NonNullable<EnvironmentSpec['snapshot']>, coldStart: ColdStart): Promise<boolean> {
    const startedAt = this.deps.clock.monotonic();
    // A pre-restored clone (if one is ready) becomes this environment in its own control directory.
    const clone = this.snapStart.takeClone(spec);
    const { slot, booted } = await this.openSlot(id, identityOf(spec, id, this.deps.clock.now()), initType, { restored: initType === 'on-demand', coldStart, controlDir: clone?.controlDir })
      .catch(async (err: unknown) => { await destroyClone(clone); throw err; });
    slot.owner = ownerOf(spec);
    try {
      await this.snapStart.restore(slot, spec, image, startedAt, clone);
      return true;
    } catch (err) {
      booted();
      await this.destroyEnvironment(id);
      this.deps.log.warn({ err, fn: spec.functionName, version: spec.version }, 'SnapStart restore failed; booting instead');
      return false;
    }
  }

  /** SnapStart on publish (see SnapStartBoots.createSnapshot). */
  createSnapshot(spec: EnvironmentSpec, opts?: { signal?: AbortSignal }): Promise<{ tar: Buffer; sha256: string }> {
    return this.snapStart.createSnapshot(spec, opts);
  }

  /** A warm-pool stem: the runtime alone, on the installation's driver, into an empty /var/task. */
  private bootStem(id: string, who: EnvironmentIdentity, bare: BareRuntime, taskDir: string): Promise<Slot> {
    return this.boot(id, who, 'on-demand', async (slot) => ({
      driver: this.launcher.defaultDriver,
      sandbox: this.launcher.stemSpec(id, bare, slot.controlDir, taskDir),
    }), { stemTaskDir: taskDir });
  }

  /** Boots a sandbox into a new slot, as `plan` says once the slot is open. */
  private async boot(
    id: string, who: EnvironmentIdentity, initType: InitType,
    plan: (slot: Slot) => Promise<{ driver: SandboxDriver; sandbox: SandboxSpec }>, extra: { stemTaskDir?: string; coldStart?: ColdStart },
  ): Promise<Slot> {
    const { slot, booted } = await this.openSlot(id, who, initType, extra);
    try {
      const { driver, sandbox: spec } = await plan(slot);
      const sandbox = await driver.create(spec);
      slot.env.attach(sandbox);
      this.deps.log.debug({ envId: id, fn: who.functionName, pid: sandbox.pid }, 'sandbox started');
      return slot;
    } catch (err) {
      booted();
      await this.destroyEnvironment(id);
      throw err;
    }
  }

  /** A slot for a new environment: its control directory, Environment and Runtime API socket. */
  private async openSlot(
    id: string, who: EnvironmentIdentity, initType: InitType, extra: { stemTaskDir?: string; restored?: boolean; coldStart?: ColdStart; controlDir?: string },
  ): Promise<{ slot: Slot; booted: () => void }> {
    const controlDir = extra.controlDir ?? await makeControlDir(this.deps.runRoot.path, id);
    const booted = await this.bootGate.enter();
    const relay = new TelemetryRelay(controlDir);
    const slot = { id, controlDir, relay, memoryMb: who.memoryMb, stemTaskDir: extra.stemTaskDir, coldStart: extra.coldStart, leases: new Leases() } as Slot;
    slot.env = new Environment({
      id,
      ...who,
      initTimeoutMs: this.initTimeoutMs,
      maxResponseBytes: MAX_RESPONSE_BYTES,
      clock: this.deps.clock,
      logSink: this.deps.logSink,
      onDeath: () => this.lost(slot),
      onInitialized: booted,
      onInitDone: (ms) => slot.coldStart && this.initDone(slot.coldStart, ms),
      reportsInit: initType === 'on-demand',
      restored: extra.restored,
      freezeAfterMs: this.deps.freezeIdleAfterMs,
      logLimits: this.deps.logLimits,
      telemetry: (...args) => relay.post(...args),
    });
    slot.api = runtimeApiIn(controlDir, slot.env);
    this.slots.set(id, slot);
    try {
      await serveRuntimeApi(slot.api, controlDir);
      await relay.listen();
    } catch (err) {
      booted();
      await this.destroyEnvironment(id);
      throw err;
    }
    return { slot, booted };
  }

  /** An init completed: counted, and traced under its environment's creation if that was traced. */
  private initDone(coldStart: ColdStart, ms: number): void {
    this.deps.metrics?.coldStart(coldStart.fn, coldStart.kind, ms);
    if (coldStart.trace === undefined) return;
    this.tracer.record('function.init', coldStart.trace, ms, { [ATTR.initDurationMs]: ms, [ATTR.startKind]: coldStart.kind });
  }

  private lost(slot: Slot): void {
    if (this.pool?.lost(slot)) return;
    if (this.slots.get(slot.id) === slot) for (const listener of this.lostListeners) listener(slot.id);
  }

  /** Keeps the warm pool's stems booted (none without a warm pool). */
  fillWarmPool(): void {
    this.pool?.fill();
  }

  /**
   * Gives a stem its function: the code goes into its /var/task, the variables to its runtime.
   * The stem has left the pool for good (`WarmPool.take`): it is this function's environment
   * until it is destroyed, never pooled or given to another function or account.
   */
  private async specialize(stem: Slot, envId: string, spec: EnvironmentSpec, trace: string | undefined, prewarm: boolean): Promise<void> {
    if (stem.owner || this.pool?.holds(stem)) {
      await this.destroyEnvironment(stem.id);
      throw new StratusError('Internal', `warm-pool stem ${stem.id} was given a function already`);
    }
    stem.owner = ownerOf(spec);
    stem.coldStart = coldStartOf(spec, 'warm-pool', trace);
    // Refilled once its first invoke is answered (a fork on this cold start's path otherwise); a pre-warm's at once (no invoke waits, and one may come only hours later).
    stem.refillsPool = !prewarm;
    if (prewarm) this.pool?.fill();
    try {
      await this.pool?.load(stem, spec);
    } catch (err) {
      await this.destroyEnvironment(stem.id);
      throw err;
    }
    this.slots.delete(stem.id);
    stem.id = envId;
    stem.memoryMb = spec.memoryMb;
    this.slots.set(envId, stem);
    stem.env.specialize({ id: envId, ...identityOf(spec, envId, this.deps.clock.now()) }, this.launcher.variables(envId, spec, 'on-demand'));
  }

  invoke(envId: string, invocation: Invocation): Promise<InvocationResult> {
    const slot = this.slots.get(envId);
    if (!slot) return Promise.reject(new StratusError('Internal', `no environment ${envId} on worker ${this.id}`));
    const refused = invocationRefusal(envId, slot.owner, invocation.invokedFunctionArn);
    if (refused) return Promise.reject(refused);
    if (slot.refillsPool) {
      // The first invoke of a stem's cold start: the pool refills once it is answered.
      slot.refillsPool = false;
      const result = this.invokeSlot(slot, envId, invocation);
      void result.catch(() => {}).finally(() => setImmediate(() => this.pool?.fill()));
      return result;
    }
    return this.invokeSlot(slot, envId, invocation);
  }

  private invokeSlot(slot: Slot, envId: string, invocation: Invocation): Promise<InvocationResult> {
    if (invocation.trace === undefined || !this.tracer.enabled) return slot.env.invoke(invocation);
    return traced(this.tracer.start('worker.invoke', invocation.trace, {
      attributes: { [ATTR_FAAS_INVOCATION_ID]: invocation.requestId, [ATTR.environmentId]: envId, [ATTR.workerId]: this.id },
    }), slot.env.invoke(invocation));
  }

  async destroyEnvironment(envId: string): Promise<void> {
    const slot = this.slots.get(envId);
    if (!slot) return;
    this.slots.delete(envId);
    if (slot.refillsPool) this.pool?.fill();
    await closeSlot(slot);
  }

  onEnvironmentLost(listener: (envId: string) => void): void {
    this.lostListeners.push(listener);
  }

  /** The environments alive here. Epochs are enforced around this agent, by `FencedWorkerAgent`. */
  async environments(): Promise<EnvironmentReport[]> {
    return [...this.slots].filter(([, slot]) => slot.env.alive && !this.pool?.holds(slot)).map(([envId, slot]) => ({ envId, busy: slot.env.busy, ...(slot.env.usage.state === 'frozen' ? { frozen: true } : {}) }));
  }

  status(): WorkerStatus {
    let [stems, busy, cachesMb] = [0, 0, this.snapStart.clonesReservedMb()];
    for (const slot of this.slots.values()) {
      if (this.pool?.holds(slot)) [stems, cachesMb] = [stems + 1, cachesMb + slot.memoryMb];
      if (slot.env.busy) busy++;
    }
    return {
      id: this.id,
      memoryMb: this.deps.memoryMb,
      memoryReservedMb: this.reservedMb(),
      memoryCachesMb: cachesMb,
      environments: this.slots.size,
      cachedCode: this.deps.taskFiles.cachedCode?.() ?? [],
      stems,
      busy,
      ...(this.deps.zone === undefined ? {} : { zone: this.deps.zone }),
    };
  }

  /** Memory reserved here: every environment's and stem's, and the pre-restored SnapStart clones'. */
  private reservedMb(): number {
    let reserved = this.snapStart.clonesReservedMb();
    for (const slot of this.slots.values()) reserved += slot.memoryMb;
    return reserved;
  }

  /** For metrics, read at scrape: environments by state (stems in the warm pool apart) and the sum of their sandboxes' peak memory. */
  usage(): { states: Map<string, number>; peakBytes: number } {
    const states = new Map<string, number>();
    let peakBytes = 0;
    for (const slot of this.slots.values()) {
      const usage = slot.env.usage;
      const state = this.pool?.holds(slot) ? 'warm-pool' : usage.state;
      states.set(state, (states.get(state) ?? 0) + 1);
      peakBytes += usage.peakBytes;
    }
    return { states, peakBytes };
  }

  async shutdown(): Promise<void> {
    this.pool?.close();
    await this.snapStart.close();
    await Promise.all([...this.slots.keys()].map((id) => this.destroyEnvironment(id)));
    await this.deps.runRoot.close();
  }
}

function coldStartOf(spec: EnvironmentSpec, kind: ColdStart['kind'], trace?: string): ColdStart {
  return { fn: { account: spec.accountId, function: spec.functionName, version: spec.version }, kind, ...(trace === undefined ? {} : { trace }) };
}

/** An invocation's span: its REPORT's durations, and whether the function failed. */
async function traced(span: TraceSpan, running: Promise<InvocationResult>): Promise<InvocationResult> {
  try {
    const result = await running;
    span.set({ [ATTR.durationMs]: result.durationMs, [ATTR.functionError]: result.outcome.kind === 'function-error' });
    if (result.initDurationMs !== undefined) span.set({ [ATTR.initDurationMs]: result.initDurationMs });
    if (result.outcome.kind === 'function-error') span.fail('function error', 'FunctionError');
    return result;
  } catch (err) {
    span.fail(err);
    throw err;
  } finally {
    span.end();
  }
}

function ownerOf(spec: EnvironmentSpec): SlotOwner {
  return { accountId: spec.accountId, functionName: spec.functionName };
}

/** Who an environment of `spec` runs for, and where it logs: its own stream, named as Lambda names them. */
function identityOf(spec: EnvironmentSpec, envId: string, nowMs: number): EnvironmentIdentity {
  const runtime = spec.package.type === 'Zip' ? spec.package.runtime : 'image';
  const log = { accountId: spec.accountId, functionName: spec.functionName, group: logGroupOf(spec), stream: logStreamName(nowMs, spec.version, envId), grant: spec.logging.grant };
  const logging = { format: spec.logging.format, ...(spec.logging.systemLogLevel ? { systemLogLevel: spec.logging.systemLogLevel } : {}) };
  return { functionName: spec.functionName, log, version: spec.version, runtime, memoryMb: spec.memoryMb, timeoutMs: spec.timeoutSec * 1000, logging };
}
