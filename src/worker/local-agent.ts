import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';
import { StratusError } from '../shared/errors.js';
import type { SandboxDriver } from '../sandbox/index.js';
import type { FunctionVersion } from '../registry/index.js';
import type { EnvironmentOptions, WorkerAgent, WorkerStatus } from './agent.js';
import type { TaskFiles } from './code-cache.js';
import { BootGate } from './boot-gate.js';
import { Environment, type FunctionLogSink } from './environment.js';
import type { Invocation, InvocationResult } from './invocation.js';
import { RuntimeApiServer } from './runtime-api.js';
import { launchFor } from './runtimes.js';

export interface LocalWorkerDeps {
  id: string;
  memoryMb: number;
  region: string;
  nodePath: string;
  pythonPath: string;
  driver: SandboxDriver;
  taskFiles: TaskFiles;
  clock: Clock;
  log: Logger;
  logSink: FunctionLogSink;
  initTimeoutMs?: number;
  /** Sandboxes booting at once (from spawn to the runtime's first /next). */
  maxConcurrentBoots: number;
}

interface Slot {
  env: Environment;
  api: RuntimeApiServer;
  controlDir: string;
  memoryMb: number;
}

const MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100;

/** The worker agent of this host: sandboxes, their Runtime API endpoints and the code cache. */
export class LocalWorkerAgent implements WorkerAgent {
  readonly id: string;
  private readonly slots = new Map<string, Slot>();
  private readonly cachedCode = new Set<string>();
  private readonly lostListeners: ((envId: string) => void)[] = [];
  private runDir: Promise<string> | undefined;
  private readonly bootGate: BootGate;

  constructor(private readonly deps: LocalWorkerDeps) {
    this.id = deps.id;
    this.bootGate = new BootGate(deps.maxConcurrentBoots);
  }

  async createEnvironment(envId: string, fn: FunctionVersion, opts: EnvironmentOptions = {}): Promise<void> {
    const initType = opts.initType ?? 'on-demand';
    if (this.slots.has(envId)) throw new StratusError('Internal', `environment ${envId} exists`);
    const controlDir = join(await this.runRoot(), envId.slice(0, 12));
    await mkdir(controlDir, { mode: 0o755 });
    const booted = await this.bootGate.enter();
    const env = new Environment({
      id: envId,
      functionName: fn.name,
      version: fn.version,
      runtime: fn.runtime,
      memoryMb: fn.memoryMb,
      timeoutMs: fn.timeoutSec * 1000,
      initTimeoutMs: this.deps.initTimeoutMs ?? 10_000,
      maxResponseBytes: MAX_RESPONSE_BYTES,
      clock: this.deps.clock,
      logSink: this.deps.logSink,
      onDeath: () => {
        if (this.slots.has(envId)) for (const listener of this.lostListeners) listener(envId);
      },
      onInitialized: booted,
      reportsInit: initType === 'on-demand',
    });
    const api = new RuntimeApiServer(join(controlDir, 'runtime.sock'), env, MAX_RESPONSE_BYTES);
    const slot: Slot = { env, api, controlDir, memoryMb: fn.memoryMb };
    this.slots.set(envId, slot);
    try {
      await api.listen();
      await chmod(join(controlDir, 'runtime.sock'), 0o666);
      const taskDir = await this.deps.taskFiles.resolve(fn.code);
      this.cachedCode.add(fn.code.sha256);
      const launch = launchFor(fn, {
        region: this.deps.region,
        nodePath: this.deps.nodePath,
        pythonPath: this.deps.pythonPath,
        runtimeApiHost: '127.0.0.1',
        runtimeApiPort: 9001,
        runtimeApiSocket: '/run/stratus/runtime.sock',
        logStreamName: logStreamName(this.deps.clock.now(), fn.version, envId),
        initType,
      });
      const sandbox = await this.deps.driver.create({
        id: envId,
        taskDir,
        runtimeDir: launch.runtimeDir,
        binds: launch.binds,
        controlDir,
        command: launch.command,
        env: launch.env,
        memoryMb: fn.memoryMb,
        tmpSizeMb: fn.ephemeralStorageMb,
        network: fn.tags?.['stratus:network'] === 'outbound' ? 'outbound' : 'none',
      });
      env.attach(sandbox);
      this.deps.log.debug({ envId, fn: fn.name, pid: sandbox.pid }, 'sandbox started');
    } catch (err) {
      booted();
      await this.destroyEnvironment(envId);
      throw err;
    }
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
  }

  onEnvironmentLost(listener: (envId: string) => void): void {
    this.lostListeners.push(listener);
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
    await Promise.all([...this.slots.keys()].map((id) => this.destroyEnvironment(id)));
    if (this.runDir) await rm(await this.runDir, { recursive: true, force: true });
  }

  /** Unix socket paths are short-limited, so control dirs live under the system temp dir. */
  private runRoot(): Promise<string> {
    this.runDir ??= mkdtemp(join(tmpdir(), `stratus-run-${process.pid}-`));
    return this.runDir;
  }
}

function logStreamName(nowMs: number, version: string, envId: string): string {
  const day = new Date(nowMs).toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/[${version}]${envId.replaceAll('-', '').slice(0, 32)}`;
}

/** Removes the socket directories of workers that died without cleaning up (SIGKILL). */
export async function removeStaleRunDirs(): Promise<void> {
  for (const name of await readdir(tmpdir())) {
    const pid = /^stratus-run-(\d+)-/.exec(name)?.[1];
    if (pid && !existsSync(`/proc/${pid}`)) await rm(join(tmpdir(), name), { recursive: true, force: true });
  }
}
