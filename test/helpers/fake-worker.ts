import type { FunctionVersion } from '../../src/registry/index.js';
import { systemClock, type Clock, type TimerHandle } from '../../src/shared/clock.js';
import { StratusError } from '../../src/shared/errors.js';
import {
  errorDocument, invocationRefusal, SinkWriter, type EnvironmentOptions, type EnvironmentReport, type EnvironmentSpec, type Invocation, type InvocationOutcome, type InvocationResult, type WorkerAgent, type WorkerStatus,
} from '../../src/worker/index.js';

/** What the fake's "function" can do during one invocation: what a runtime tells the Runtime API. */
export interface FakeRuntime {
  readonly requestId: string;
  /** Wall-clock deadline of the invocation (the function's timeout). */
  readonly deadlineMs: number;
  /** The handler returned this payload. */
  respond(payload: Buffer | string): void;
  /** The handler threw: the caller gets Lambda's error document of that error. */
  fail(errorType: string, errorMessage: string): void;
  /** A streamed response (awslambda.streamifyResponse): each write reaches the caller's sink as it is written. */
  stream(contentType: string): { write(chunk: Buffer | string): Promise<void>; end(): void };
  /** The runtime process exits (its environment dies), now or later (e.g. after responding). */
  exit(code: number): void;
}

/** The fake's stand-in for function code, run in-process. The default echoes the payload. */
export type FakeProgram = (payload: Buffer, runtime: FakeRuntime, spec: EnvironmentSpec) => Promise<void> | void;

export interface FakeWorkerOptions {
  clock?: Clock;
  program?: FakeProgram;
  /** Functions it cannot boot: the SandboxCreateFailed message (undefined: it boots). */
  bootFails?(spec: EnvironmentSpec): string | undefined;
}

interface FakeInvocation {
  inv: Invocation;
  startedAt: number;
  timer: TimerHandle;
  settled: boolean;
  resolve(result: InvocationResult): void;
}

interface FakeEnvironment {
  id: string;
  spec: EnvironmentSpec;
  /** Init Duration still to be reported (on-demand environments, first invocation). */
  reportsInit: boolean;
  /** Why it died (it then answers every invocation with this). */
  death?: (requestId: string) => InvocationOutcome;
  current?: FakeInvocation;
}

const echo: FakeProgram = (payload, runtime) => runtime.respond(payload);

/**
 * A worker without sandboxes (unit tests of assignment, contract tests). It records what it is
 * asked to do and runs each environment's "function" as an in-process FakeProgram, with the
 * outcomes, fencing and errors of a real worker agent (test/contract/worker-agent.contract.ts).
 */
export class FakeWorker implements WorkerAgent {
  readonly created: string[] = [];
  /** What each environment was created from. */
  readonly specs = new Map<string, EnvironmentSpec>();
  readonly destroyed: string[] = [];
  /** Environments it reports as busy (tests may add to it; invocations in progress are in it). */
  readonly busy = new Set<string>();
  /** The highest epoch it was fenced with. */
  epoch = 0;
  failCreate = false;
  private readonly envs = new Map<string, FakeEnvironment>();
  private readonly lostListeners: ((envId: string) => void)[] = [];
  private readonly clock: Clock;
  private readonly program: FakeProgram;
  private readonly bootFails: (spec: EnvironmentSpec) => string | undefined;

  constructor(readonly id: string, private readonly memoryMb = 1024, opts: FakeWorkerOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.program = opts.program ?? echo;
    this.bootFails = opts.bootFails ?? (() => undefined);
  }

  createEnvironment(envId: string, spec: EnvironmentSpec, opts: EnvironmentOptions = {}): Promise<void> {
    return this.create(envId, spec, opts);
  }

  invoke(envId: string, invocation: Invocation): Promise<InvocationResult> {
    try {
      this.admit(invocation.epoch);
    } catch (err) {
      return Promise.reject(err);
    }
    const env = this.envs.get(envId);
    if (!env) return Promise.reject(new StratusError('Internal', `no environment ${envId} on worker ${this.id}`));
    const refused = invocationRefusal(envId, env.spec, invocation.invokedFunctionArn);
    if (refused) return Promise.reject(refused);
    if (env.current) return Promise.reject(new StratusError('Internal', `environment ${envId} is already running an invocation`));
    return new Promise((resolve) => {
      const call: FakeInvocation = { inv: invocation, startedAt: this.clock.monotonic(), settled: false, resolve, timer: { cancel: () => {} } };
      env.current = call;
      this.busy.add(envId);
      if (env.death) return this.settle(env, call, env.death(invocation.requestId));
      const timeoutMs = env.spec.timeoutSec * 1000;
      call.timer = this.clock.setTimer(timeoutMs, () => this.die(env, timedOut(timeoutMs)));
      this.run(env, call, timeoutMs);
    });
  }

  destroyEnvironment(envId: string, epoch?: number): Promise<void> {
    return this.destroy(envId, epoch);
  }


  status(): WorkerStatus {
    return { id: this.id, memoryMb: this.memoryMb, memoryReservedMb: 0, environments: this.envs.size, cachedCode: [] };
  }

  onEnvironmentLost(listener: (envId: string) => void): void {
    this.lostListeners.push(listener);
  }

  async environments(epoch?: number): Promise<EnvironmentReport[]> {
    this.admit(epoch);
    return this.created
      .filter((id) => !this.destroyed.includes(id) && !this.envs.get(id)?.death)
      .map((envId) => ({ envId, busy: this.busy.has(envId) }));
  }

  async shutdown(): Promise<void> {
    for (const envId of [...this.envs.keys()]) await this.destroy(envId);
  }

  private async create(envId: string, spec: EnvironmentSpec, opts: EnvironmentOptions = {}, epoch?: number): Promise<void> {
    this.admit(epoch ?? opts.epoch);
    const failure = this.failCreate ? 'boot failed' : this.bootFails(spec);
    if (failure !== undefined) throw new StratusError('SandboxCreateFailed', failure);
    if (this.envs.has(envId)) throw new StratusError('Internal', `environment ${envId} exists`);
    this.created.push(envId);
    this.specs.set(envId, spec);
    this.envs.set(envId, { id: envId, spec, reportsInit: (opts.initType ?? 'on-demand') === 'on-demand' });
  }

  private async destroy(envId: string, epoch?: number): Promise<void> {
    this.admit(epoch);
    this.destroyed.push(envId);
    const env = this.envs.get(envId);
    if (!env) return;
    this.envs.delete(envId);
    this.die(env, exited(null, 'SIGKILL'));
  }

  /** Refuses a request of a leadership older than the newest one seen; a newer one raises it. */
  private admit(epoch: number | undefined): void {
    if (epoch === undefined) return;
    if (epoch < this.epoch) throw new StratusError('Fenced', `a newer assignment leadership (epoch ${this.epoch}) has taken over worker ${this.id}`);
    this.epoch = epoch;
  }

  private run(env: FakeEnvironment, call: FakeInvocation, timeoutMs: number): void {
    const { requestId } = call.inv;
    const open = () => !call.settled && env.current === call;
    const buffered: Buffer[] = [];
    let writer: SinkWriter | undefined;
    // The writer pauses its source while the sink is full: here, the program's next write waits.
    let paused: Promise<void> | undefined;
    let unpause: (() => void) | undefined;
    const source = {
      pause: () => {
        paused = new Promise((resolve) => (unpause = resolve));
      },
      resume: () => {
        paused = undefined;
        unpause?.();
      },
    };
    const runtime: FakeRuntime = {
      requestId,
      deadlineMs: this.clock.now() + timeoutMs,
      respond: (payload) => {
        if (open()) this.settle(env, call, { kind: 'success', payload: Buffer.from(payload) });
      },
      fail: (errorType, message) => {
        if (open()) this.settle(env, call, { kind: 'function-error', errorType, payload: errorDocument(errorType, message, []) });
      },
      stream: (contentType) => ({
        write: async (chunk) => {
          const bytes = Buffer.from(chunk);
          if (!open() || bytes.length === 0) return;
          const sink = call.inv.responseSink;
          if (!sink) return void buffered.push(bytes);
          writer ??= new SinkWriter(sink, contentType, source);
          writer.write(bytes);
          await paused;
        },
        end: () => {
          // As a real worker: the result follows the whole body, once the sink has taken it.
          void (writer?.settled() ?? Promise.resolve()).then(() => {
            if (open()) this.settle(env, call, writer?.opened ? { kind: 'streamed', contentType } : { kind: 'success', payload: Buffer.concat(buffered), contentType });
          });
        },
      }),
      exit: (code) => this.die(env, exited(code, null)),
    };
    Promise.resolve()
      .then(() => this.program(call.inv.payload, runtime, env.spec))
      .catch((err: unknown) => runtime.fail('Error', err instanceof Error ? err.message : String(err)));
  }

  /** The environment ends: its invocation in flight gets the failure; an end it did not ask for is reported. */
  private die(env: FakeEnvironment, failure: (requestId: string) => InvocationOutcome): void {
    if (env.death) return;
    env.death = failure;
    if (this.envs.get(env.id) === env) for (const listener of this.lostListeners) listener(env.id);
    if (env.current && !env.current.settled) this.settle(env, env.current, failure(env.current.inv.requestId));
  }

  private settle(env: FakeEnvironment, call: FakeInvocation, outcome: InvocationOutcome): void {
    if (call.settled) return;
    call.settled = true;
    call.timer.cancel();
    if (env.current === call) env.current = undefined;
    this.busy.delete(env.id);
    const initDurationMs = env.reportsInit ? 0 : undefined;
    env.reportsInit = false;
    const durationMs = this.clock.monotonic() - call.startedAt;
    const { requestId } = call.inv;
    const log = `START RequestId: ${requestId} Version: ${env.spec.version}\nEND RequestId: ${requestId}\nREPORT RequestId: ${requestId}\tDuration: ${durationMs.toFixed(2)} ms\n`;
    // Settled on a later turn, as a real worker answers once the runtime's request is done.
    setImmediate(() => call.resolve({
      outcome,
      reusable: env.death === undefined && this.envs.get(env.id) === env,
      durationMs,
      initDurationMs,
      logTail: call.inv.tailLog ? Buffer.from(log).toString('base64') : undefined,
    }));
  }
}

/** How a real worker reports a runtime that exited (Lambda's Runtime.ExitError). */
function exited(code: number | null, signal: 'SIGKILL' | null): (requestId: string) => InvocationOutcome {
  const status = signal ? 'signal: killed' : code ? `exit status ${code}` : '';
  const message = status ? `Runtime exited with error: ${status}` : 'Runtime exited without providing a reason';
  return (requestId) => ({ kind: 'function-error', errorType: 'Runtime.ExitError', payload: errorDocument('Runtime.ExitError', `RequestId: ${requestId} Error: ${message}`) });
}

function timedOut(timeoutMs: number): (requestId: string) => InvocationOutcome {
  const seconds = (timeoutMs / 1000).toFixed(2);
  return (requestId) => ({ kind: 'function-error', errorType: 'Sandbox.Timedout', payload: errorDocument('Sandbox.Timedout', `RequestId: ${requestId} Error: Task timed out after ${seconds} seconds`) });
}

/** A function version for unit tests. */
export function fakeFunction(name: string, revisionId = 'r1', memoryMb = 128): FunctionVersion {
  return {
    accountId: '000000000000', name, runtime: 'nodejs20.x', role: 'arn:aws:iam::000000000000:role/r', handler: 'index.handler', description: '',
    timeoutSec: 3, memoryMb, ephemeralStorageMb: 512, environment: {}, code: { sha256: 'a'.repeat(64), size: 1 },
    lastModifiedMs: 0, revisionId, version: '$LATEST', functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
  };
}

/** What a worker is given for an environment of `fakeFunction(name)`. */
export function fakeSpec(name: string, memoryMb = 128): EnvironmentSpec {
  return {
    accountId: '000000000000', functionName: name, version: '$LATEST', memoryMb, timeoutSec: 3, ephemeralStorageMb: 512, environment: {},
    package: { type: 'Zip', code: { sha256: 'a'.repeat(64), size: 1 }, runtime: 'nodejs20.x', handler: 'index.handler' },
    sandboxDriver: 'default', network: 'none', logging: { format: 'Text', logGroup: `/aws/lambda/${name}` },
  };
}
