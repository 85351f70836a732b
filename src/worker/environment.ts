import type { Clock, TimerHandle } from '../shared/clock.js';
import type { Sandbox } from '../sandbox/index.js';
import type { NextInvocation, RuntimeApiHandler } from './runtime-api.js';
import { ResponseRelay, type StreamedResponse } from './response-relay.js';
import { errorDocument, type Invocation, type InvocationOutcome, type InvocationResult } from './invocation.js';
import { LogTail, PlatformLog, type PlatformLogSettings } from './log-lines.js';
import { exitFailure, extensionFailure, outOfMemoryFailure, timeoutFailure, type Failure } from './environment-failures.js';
import { LogBudget, type LogLimits } from './log-budget.js';
import type { FunctionLogSink, LogDestination } from './log-shipper.js';
import { EnvironmentExtensions } from './environment-extensions.js';
import type { Deliver } from './telemetry.js';
import type { Pending, Phase } from './environment-state.js';

export interface EnvironmentParams {
  id: string;
  functionName: string;
  /** Where its output is logged; absent for a warm-pool stem until it is given a function. */
  log?: LogDestination;
  version: string;
  runtime: string;
  memoryMb: number;
  timeoutMs: number;
  initTimeoutMs: number;
  /** Largest payload a caller gets buffered (a streamed response to a caller without a sink). */
  maxResponseBytes: number;
  clock: Clock;
  logSink: FunctionLogSink;
  /** Called once when the environment dies, whatever the reason. */
  onDeath(): void;
  /** Called once when init is over: the runtime asked for its first invocation, or it died. */
  onInitialized(): void;
  /** Called once when init completed (the runtime's first /next), with its Init (or Restore) Duration. */
  onInitDone?(initDurationMs: number): void;
  /** Whether the first invocation's REPORT carries Init Duration (not for provisioned concurrency). */
  reportsInit: boolean;
  /** A SnapStart clone: the first REPORT says Restore Duration instead of Init Duration. */
  restored?: boolean;
  /** An idle environment (its runtime waiting for work) is frozen after this long; undefined: never. */
  freezeAfterMs?: number;
  logLimits: LogLimits;
  /** LoggingConfig's format and SystemLogLevel: how the platform lines are written (absent: Text; a warm-pool stem learns it when specialized). */
  logging?: PlatformLogSettings;
  /** Telemetry delivery into this environment's sandbox (see telemetry-relay.ts). */
  telemetry?: Deliver;
}

/**
 * One execution environment on this worker: a sandbox plus the Runtime API state for it.
 * At most one invocation at a time. Invocation state lives here; runtime-api.ts only speaks HTTP.
 */
export class Environment implements RuntimeApiHandler {
  private phase: Phase = { kind: 'initializing' };
  private pending: Pending | undefined;
  private sandbox: Sandbox | undefined;
  private bootStartedAt = 0;
  private initDurationMs: number | undefined;
  private initReported = false;
  private bootTimer: TimerHandle | undefined;
  private earlyOutput = new LogTail();
  /** Reads of the function's output so far: an invocation settles once a turn of the event loop reads nothing more. */
  private outputReads = 0;
  private readonly logBudget: LogBudget;
  private freezeTimer: TimerHandle | undefined;
  /** Set from the moment a freeze starts until the next invocation thaws the sandbox. */
  private frozen: Promise<void> | undefined;

  /** Warm pool: the environment variables waiting for, or the runtime waiting for them. */
  private specialization: { env?: Record<string, string>; deliver?: (env: Record<string, string>) => void } = {};
  private fromWarmPool = false;
  /** Set from an invocation's answer until its extensions are done with it: the next one waits. */
  private released: Promise<void> | undefined;
  /** Set when it died: its extensions' SHUTDOWN, then the sandbox killed (`destroy` waits for it). */
  private shutdown: Promise<void> | undefined;

  /** Its extensions and Telemetry API subscriptions (served on its Runtime API, see extensions-api.ts). */
  readonly extensionsApi: EnvironmentExtensions;

  /** The platform's lines in the function's LoggingConfig (a stem's change when it is specialized). */
  private lines: PlatformLog;

  constructor(private p: EnvironmentParams) {
    this.initReported = !p.reportsInit;
    this.lines = new PlatformLog(p.logging, () => this.p.clock.now());
    this.logBudget = new LogBudget(p.logLimits, p.clock, () => this.lines);
    this.extensionsApi = new EnvironmentExtensions({
      clock: p.clock, deliver: p.telemetry,
      identity: () => ({ functionName: this.p.functionName, version: this.p.version }),
      onFailure: (errorType, message) => this.die(extensionFailure(errorType, message)),
      onOutput: (chunk) => this.output(chunk, 'stdout', 'extension'),
    });
  }

  get alive(): boolean {
    return this.phase.kind !== 'dead';
  }

  /** For metrics: where the environment is in its life, and its sandbox's peak memory so far. */
  get usage(): { state: 'initializing' | 'busy' | 'frozen' | 'idle' | 'dead'; peakBytes: number } {
    const state = this.phase.kind === 'dead' ? 'dead' : this.pending ? 'busy' : this.initDurationMs === undefined ? 'initializing' : this.frozen ? 'frozen' : 'idle';
    return { state, peakBytes: this.sandbox?.peakMemoryBytes() ?? 0 };
  }

  /** An invocation is in progress (or waiting for the runtime). */
  get busy(): boolean {
    return this.pending !== undefined || this.released !== undefined;
  }

  /** Called once the sandbox is running; the runtime inside will call the Runtime API. */
  attach(sandbox: Sandbox, startedAt = this.p.clock.monotonic()): void {
    this.sandbox = sandbox;
    this.bootStartedAt = startedAt;
    sandbox.stdout.on('data', (d: Buffer) => this.output(d, 'stdout')).resume();
    sandbox.stderr.on('data', (d: Buffer) => this.output(d, 'stderr')).resume();
    void sandbox.exited.then((e) => this.die(e.oomKilled ? outOfMemoryFailure() : exitFailure(e.code, e.signal), false));
    this.bootTimer = this.p.clock.setTimer(this.p.initTimeoutMs, () => this.die(timeoutFailure(this.p.initTimeoutMs, 'Init')));
    this.extensionsApi.initStarted();
  }

  invoke(inv: Invocation): Promise<InvocationResult> {
    // The previous invocation's extensions are still at work: this one waits for them.
    if (this.released) return this.released.then(() => this.invoke(inv));
    if (this.pending) return Promise.reject(new Error(`environment ${this.p.id} is already running an invocation`));
    return new Promise((resolve) => {
      const pending: Pending = { inv, tail: new LogTail(), startedAt: this.p.clock.monotonic(), settled: false, resolve };
      this.pending = pending;
      this.freezeTimer?.cancel();
      if (this.phase.kind === 'dead') this.fail(pending, this.phase.failure);
      else if (this.frozen) this.thawThenDispatch(pending);
      else if (this.phase.kind === 'waiting') this.dispatch(pending, this.phase.deliver);
    });
  }

  /** Lambda's freeze between invocations: an idle runtime gets no CPU and writes nothing. */
  private freezeWhenIdle(): void {
    const { freezeAfterMs } = this.p;
    if (freezeAfterMs === undefined || !this.sandbox || this.frozen) return;
    this.freezeTimer?.cancel();
    this.freezeTimer = this.p.clock.setTimer(freezeAfterMs, () => {
      if (this.phase.kind !== 'waiting' || this.pending || !this.sandbox || this.frozen) return;
      const sandbox = this.sandbox;
      this.frozen = sandbox.freeze().catch(() => sandbox.thaw().catch(() => {}));
    });
  }

  private thawThenDispatch(pending: Pending): void {
    const frozen = this.frozen;
    this.frozen = undefined;
    void (async () => {
      await frozen;
      await this.sandbox?.thaw();
    })().then(
      () => {
        if (this.pending === pending && this.phase.kind === 'waiting') this.dispatch(pending, this.phase.deliver);
      },
      () => this.die(exitFailure(null, 'SIGKILL'), false),
    );
  }

  async destroy(): Promise<void> {
    if (this.alive && this.sandbox && this.extensionsApi.host.wantsShutdown) {
      await this.frozen?.then(() => this.sandbox?.thaw()).catch(() => {});
      this.frozen = undefined;
      await this.extensionsApi.shutdown();
    }
    this.die(exitFailure(null, 'SIGKILL'), false);
    await this.shutdown;
    this.extensionsApi.close();
    await this.sandbox?.destroy();
  }

  /**
   * Turns a warm-pool environment (runtime booted, no function yet) into one of `update`'s
   * function: the runtime gets the function's environment variables and loads its code; Init
   * Duration then measures the function's own init.
   */
  specialize(update: Pick<EnvironmentParams, 'id' | 'functionName' | 'log' | 'version' | 'runtime' | 'memoryMb' | 'timeoutMs' | 'logging'>, env: Record<string, string>): void {
    this.p = { ...this.p, ...update };
    this.lines = new PlatformLog(this.p.logging, () => this.p.clock.now());
    this.fromWarmPool = true;
    this.bootStartedAt = this.p.clock.monotonic();
    this.bootTimer?.cancel();
    this.bootTimer = this.p.clock.setTimer(this.p.initTimeoutMs, () => this.die(timeoutFailure(this.p.initTimeoutMs, 'Init')));
    this.specialization.env = env;
    this.specialization.deliver?.(env);
  }

  // --- RuntimeApiHandler ---------------------------------------------------------------

  onSpecialization(deliver: (env: Record<string, string>) => void): void {
    if (this.phase.kind === 'dead') return;
    this.p.onInitialized();
    const { env } = this.specialization;
    if (env) deliver(env);
    else {
      this.bootTimer?.cancel();
      this.specialization.deliver = deliver;
    }
  }

  onRestoreNext(deliver: () => void): void {
    if (this.phase.kind !== 'dead') deliver();
  }

  onRestoreError(errorType: string | undefined, body: Buffer): void {
    this.onInitError(errorType ?? 'Runtime.RestoreError', body);
  }

  /** Only a snapshot boot is checkpointed; an environment's sandbox never asks. */
  onCheckpoint(): void {}

  onNext(deliver: (inv: NextInvocation) => void): void {
    if (this.phase.kind === 'dead') return;
    // Init is over once every extension is ready too (each registered one asked for its next event).
    if (this.initDurationMs === undefined && !this.extensionsApi.host.initDone) return this.extensionsApi.whenInitDone(() => this.onNext(deliver));
    if (this.initDurationMs === undefined) {
      this.extensionsApi.host.closeRegistration();
      this.initDurationMs = this.p.clock.monotonic() - this.bootStartedAt;
      this.extensionsApi.initReported(this.initDurationMs);
      this.bootTimer?.cancel();
      this.p.onInitialized();
      this.p.onInitDone?.(this.initDurationMs);
    }
    this.phase = { kind: 'waiting', deliver };
    if (this.pending && this.pending.answeredAt === undefined) this.dispatch(this.pending, deliver);
    else this.freezeWhenIdle();
  }

  onResponse(requestId: string, body: Buffer | 'too-large'): 'accepted' | 'unknown-request' | 'too-large' {
    if (!this.isCurrent(requestId)) return 'unknown-request';
    if (body !== 'too-large') {
      this.complete({ kind: 'success', payload: body });
      return 'accepted';
    }
    const message = 'Response payload size exceeded maximum allowed payload size (6291556 bytes).';
    this.complete({ kind: 'function-error', errorType: 'Function.ResponseSizeTooLarge', payload: errorDocument('Function.ResponseSizeTooLarge', message) });
    return 'too-large';
  }

  onResponseStream(requestId: string, response: StreamedResponse): 'accepted' | 'unknown-request' {
    const pending = this.pending;
    if (!this.isCurrent(requestId) || !pending || pending.relay) return 'unknown-request';
    const relay = new ResponseRelay(response, pending.inv.responseSink, this.p.maxResponseBytes);
    pending.relay = relay;
    void relay.done.then((outcome) => {
      if (this.pending === pending && this.isCurrent(requestId)) this.complete(outcome);
    });
    return 'accepted';
  }

  onError(requestId: string, errorType: string | undefined, body: Buffer): 'accepted' | 'unknown-request' {
    if (!this.isCurrent(requestId)) return 'unknown-request';
    this.complete({ kind: 'function-error', errorType: errorType ?? 'Unhandled', payload: body });
    return 'accepted';
  }

  onInitError(errorType: string | undefined, body: Buffer): void {
    const type = errorType ?? 'Runtime.Unknown';
    this.die({ status: 'error', outcome: () => ({ kind: 'function-error', errorType: type, payload: body }) });
  }

  // --- internals -------------------------------------------------------------------------

  private isCurrent(requestId: string): boolean {
    return this.phase.kind === 'running' && this.phase.requestId === requestId;
  }

  private dispatch(pending: Pending, deliver: (inv: NextInvocation) => void): void {
    const { inv } = pending;
    this.phase = { kind: 'running', requestId: inv.requestId };
    this.log(pending, (this.initReported ? '' : this.lines.init(this.p)) + this.lines.start(inv.requestId, this.p.version));
    pending.dispatched = true;
    this.tellInitOutput(pending);
    pending.startedAt = this.p.clock.monotonic();
    pending.timer = this.p.clock.setTimer(this.p.timeoutMs, () => this.die(timeoutFailure(this.p.timeoutMs)));
    const deadlineMs = this.p.clock.now() + this.p.timeoutMs;
    this.extensionsApi.host.send({ eventType: 'INVOKE', deadlineMs, requestId: inv.requestId, invokedFunctionArn: inv.invokedFunctionArn, tracing: { type: 'X-Amzn-Trace-Id', value: inv.traceId } });
    this.extensionsApi.telemetry.platform('platform.start', { requestId: inv.requestId, version: this.p.version });
    deliver({
      requestId: inv.requestId,
      payload: inv.payload,
      deadlineMs,
      invokedFunctionArn: inv.invokedFunctionArn,
      traceId: inv.traceId,
      clientContext: inv.clientContext,
    });
  }

  private complete(outcome: InvocationOutcome): void {
    const pending = this.pending;
    if (!pending) return;
    this.phase = { kind: 'between' };
    pending.timer?.cancel();
    this.settleDrained(pending, outcome);
  }

  /**
   * Settles once the output pipes are drained: what the function wrote before its response may
   * still sit in a pipe (up to a pipe's buffer after a large write), so the invocation waits for
   * a turn of the event loop that reads nothing more (at most MAX_DRAIN_TURNS).
   */
  private settleDrained(pending: Pending, outcome: InvocationOutcome, status?: 'timeout' | 'error', turns = 0): void {
    pending.answeredAt ??= this.p.clock.monotonic();
    const reads = this.outputReads;
    setImmediate(() => {
      if (this.outputReads !== reads && turns < MAX_DRAIN_TURNS) this.settleDrained(pending, outcome, status, turns + 1);
      else this.settle(pending, outcome, status);
    });
  }

  /** Done for good; with `tellExtensions` the sandbox is killed after their SHUTDOWN (timeout or failure). */
  private die(failure: Failure, tellExtensions = true): void {
    if (this.phase.kind === 'dead') return;
    this.phase = { kind: 'dead', failure };
    this.extensionsApi.release(failure.status);
    this.p.onDeath();
    this.p.onInitialized();
    this.bootTimer?.cancel();
    this.freezeTimer?.cancel();
    const shutdown = tellExtensions && this.sandbox && this.extensionsApi.host.wantsShutdown;
    this.shutdown = (shutdown ? this.extensionsApi.shutdown(failure.status === 'timeout' ? 'timeout' : 'failure') : Promise.resolve()).then(() => this.sandbox?.destroy());
    if (this.pending) this.fail(this.pending, failure);
  }

  private fail(pending: Pending, failure: Failure): void {
    if (!pending.dispatched) this.tellInitOutput(pending);
    const outcome = failure.outcome(pending.inv.requestId);
    if (failure.status === 'timeout' && outcome.kind === 'function-error') this.log(pending, this.lines.timedOut(pending.inv.requestId, this.p.timeoutMs));
    this.settleDrained(pending, outcome, failure.status);
  }

  private settle(pending: Pending, outcome: InvocationOutcome, status?: 'timeout' | 'error'): void {
    if (pending.settled) return;
    pending.settled = true;
    pending.timer?.cancel();
    pending.relay?.stop();
    if (this.pending === pending) this.pending = undefined;
    const durationMs = (pending.answeredAt ?? this.p.clock.monotonic()) - pending.startedAt;
    const initDurationMs = this.initReported ? undefined : this.initDurationMs;
    this.initReported = true;
    const requestId = pending.inv.requestId;
    let peak: number | undefined; // read at most once (a read of its cgroup), and only when a REPORT or platform.report needs it
    const maxMemoryUsedBytes = () => (peak ??= this.sandbox?.peakMemoryBytes() ?? 0);
    const errorType = outcome.kind === 'function-error' ? outcome.errorType : undefined, memorySizeMb = this.p.memoryMb;
    this.extensionsApi.telemetry.platform('platform.runtimeDone', { requestId, status: status ?? (errorType ? 'error' : 'success'), metrics: { durationMs } });
    const report = (final = status) => {
      const dropped = this.logBudget.endPeriod();
      if (this.p.logSink.enabled || pending.inv.tailLog) {
        this.log(pending, dropped + this.lines.finished({ requestId, durationMs, initDurationMs, restored: this.p.restored, warmPool: this.fromWarmPool, status: final, errorType, memorySizeMb, maxMemoryUsedBytes: maxMemoryUsedBytes() }));
      }
      if (this.extensionsApi.telemetry.listening) this.extensionsApi.reported({ requestId, status: final ?? (errorType ? 'error' : 'success'), durationMs, memorySizeMb, maxMemoryUsedBytes: maxMemoryUsedBytes(), initDurationMs });
    };
    // Extensions still at work on this invoke: the caller has its answer now, the REPORT waits for them.
    const extensionsBusy = this.alive && !this.extensionsApi.host.idle;
    if (!extensionsBusy) report();
    pending.resolve({
      outcome,
      reusable: this.alive,
      durationMs,
      initDurationMs,
      logTail: pending.inv.tailLog ? pending.tail.base64() : undefined,
    });
    if (extensionsBusy) {
      this.released = this.extensionsApi.hold(Math.max(0, pending.startedAt + this.p.timeoutMs - this.p.clock.monotonic()), report, () => this.die(timeoutFailure(this.p.timeoutMs))).then(() => {
        this.released = undefined;
        if (this.phase.kind === 'waiting' && !this.pending) this.freezeWhenIdle();
      });
    }
    // The runtime may have asked for its next invocation while this one drained.
    else if (this.phase.kind === 'waiting' && !this.pending) this.freezeWhenIdle();
  }

  /** The sandbox's output: the function's, or an extension's (`type`, for the Telemetry API). */
  private output(chunk: Buffer, source: 'stdout' | 'stderr', type: 'function' | 'extension' = 'function'): void {
    this.outputReads++;
    const text = this.logBudget.admit(chunk);
    if (text === '') return;
    if (this.p.log) this.p.logSink.write(this.p.log, text, source);
    this.extensionsApi.telemetry.output(text, type);
    // Output belongs to the invocation in flight, including what drains from the pipe after the
    // runtime has posted its response (until it settles); before dispatch it is init output.
    const inFlight = this.phase.kind === 'running' || this.phase.kind === 'dead' || this.pending?.answeredAt !== undefined;
    if (!inFlight || !this.pending || this.pending.settled) this.earlyOutput.append(text);
    else if (this.pending.inv.tailLog) this.pending.tail.append(text);
  }

  /** Init output went to the log as it came; the first invocation's tail shows it (after START, or alone when init failed). */
  private tellInitOutput(pending: Pending): void {
    if (pending.inv.tailLog) pending.tail.append(this.earlyOutput.text());
    this.earlyOutput = new LogTail();
  }

  private log(pending: Pending, text: string): void {
    if (this.p.log) this.p.logSink.write(this.p.log, text, 'platform');
    if (pending.inv.tailLog) pending.tail.append(text);
  }
}

/** Turns of the event loop an invocation waits at most for its output to drain (each reads up to a pipe's buffer). */
const MAX_DRAIN_TURNS = 64;
