import type { Clock } from '../shared/clock.js';
import type { EnvironmentSpec } from './environment-spec.js';
import type { ApiError, ExtensionsApiHandler } from './extensions-api.js';
import { ExtensionHost, type ExtensionEvent } from './extensions.js';
import { parseSubscription, Telemetry, type Deliver } from './telemetry.js';

export interface EnvironmentExtensionsParams {
  clock: Clock;
  /** The function as the register answer names it. */
  identity(): { functionName: string; version: string };
  /** Delivery into the sandbox (the TelemetryRelay); absent: subscriptions are taken but nothing is delivered. */
  deliver?: Deliver;
  /** What an extension wrote (its stdout and stderr, relayed by stratus-init). */
  onOutput(chunk: Buffer): void;
  /** An extension failed (an init or exit error, or its process ended before its SHUTDOWN): the environment is done. */
  onFailure(errorType: string, message: string): void;
}

/** What a function's extensions are told when they register. */
export function extensionInfo(spec: EnvironmentSpec): { handler: string; accountId: string } {
  return { handler: spec.package.type === 'Zip' ? spec.package.handler : '', accountId: spec.accountId };
}

/** How long extensions get to finish after SHUTDOWN (Lambda's 2 s with external extensions). */
export const SHUTDOWN_DEADLINE_MS = 2000;

const UNKNOWN_ID: ApiError = { status: 403, errorType: 'Extension.UnknownExtensionIdentifier', errorMessage: 'Unknown extension identifier' };

/**
 * An environment's extensions and telemetry: what the Extensions and Telemetry APIs act on, and
 * the lifecycle gates the Environment waits on (init, each invoke's end, SHUTDOWN).
 */
export class EnvironmentExtensions implements ExtensionsApiHandler {
  readonly host = new ExtensionHost();
  readonly telemetry: Telemetry;
  private info = { handler: '', accountId: '' };
  private shuttingDown = false;
  private finishHold: ((status?: 'timeout' | 'error') => void) | undefined;

  constructor(private readonly p: EnvironmentExtensionsParams) {
    this.telemetry = new Telemetry(p.clock, p.deliver ?? (() => Promise.resolve(0)));
  }

  /** The external extensions stratus-init starts from /opt/extensions, and what their register answer tells. */
  expect(names: readonly string[], info: { handler: string; accountId: string }): void {
    this.host.expect(names);
    this.info = info;
  }

  register(name: string | undefined, body: unknown, acceptAccountId: boolean): { id: string; body: Record<string, string> } | ApiError {
    const events = typeof body === 'object' && body !== null ? (body as { events?: unknown }).events : undefined;
    const r = this.host.register(name, events);
    if (!('id' in r)) return { status: 403, ...r };
    this.telemetry.platform('platform.extension', { name, state: 'Ready', events: this.host.eventsOf(r.id) });
    const { functionName, version } = this.p.identity();
    return { id: r.id, body: { functionName, functionVersion: version, handler: this.info.handler, ...(acceptAccountId ? { accountId: this.info.accountId } : {}) } };
  }

  next(id: string | undefined, deliver: (event: ExtensionEvent) => void): ApiError | undefined {
    return this.host.next(id, deliver) ? undefined : UNKNOWN_ID;
  }

  reportError(kind: 'init' | 'exit', id: string | undefined, errorType: string | undefined, body: Buffer): ApiError | undefined {
    const name = this.host.nameOf(id);
    if (!name) return UNKNOWN_ID;
    if (kind === 'exit' && this.shuttingDown) return undefined;
    const type = errorType ?? `Extension.${kind === 'init' ? 'InitError' : 'ExitError'}`;
    const message = body.toString('utf8').slice(0, 1024) || `Extension ${name} reported an ${kind} error`;
    this.p.onFailure(type, message);
    return undefined;
  }

  subscribeTelemetry(id: string | undefined, body: unknown): ApiError | undefined {
    const name = this.host.nameOf(id);
    if (!name || !id) return UNKNOWN_ID;
    const req = parseSubscription(body);
    if (typeof req === 'string') return { status: 400, errorType: 'ValidationError', errorMessage: req };
    this.telemetry.subscribe(id, name, req);
    return undefined;
  }

  output(_name: string, chunk: Buffer): void {
    this.p.onOutput(chunk);
  }

  exited(name: string, status: number): void {
    if (!this.host.expected.includes(name)) return;
    if (!this.shuttingDown) this.p.onFailure('Extension.Crash', `exit status ${status}`);
    this.host.exited(name);
  }

  /** Calls `then` once init's extension part is over; registration closes then. */
  whenInitDone(then: () => void): void {
    this.host.when(() => this.host.initDone, () => {
      this.host.closeRegistration();
      then();
    });
  }

  /** Calls `then` once no extension is working on an event. */
  whenIdle(then: () => void): void {
    this.host.when(() => this.host.idle, then);
  }

  initStarted(): void {
    const { functionName, version } = this.p.identity();
    this.telemetry.platform('platform.initStart', { initializationType: 'on-demand', phase: 'init', functionName, functionVersion: version });
  }

  /** Init completed in `durationMs` (its records; from now on only subscriptions get records). */
  initReported(durationMs: number): void {
    const initializationType = 'on-demand';
    this.telemetry.platform('platform.initRuntimeDone', { initializationType, phase: 'init', status: 'success' });
    this.telemetry.platform('platform.initReport', { initializationType, phase: 'init', status: 'success', metrics: { durationMs } });
    this.telemetry.endBacklog();
  }

  /** An invocation's REPORT, as platform.report. */
  reported(r: { requestId: string; status: string; durationMs: number; memorySizeMb: number; maxMemoryUsedBytes: number; initDurationMs?: number }): void {
    const metrics = {
      durationMs: r.durationMs, billedDurationMs: Math.ceil(r.durationMs), memorySizeMB: r.memorySizeMb,
      maxMemoryUsedMB: Math.ceil(r.maxMemoryUsedBytes / 1048576), ...(r.initDurationMs === undefined ? {} : { initDurationMs: r.initDurationMs }),
    };
    this.telemetry.platform('platform.report', { requestId: r.requestId, status: r.status, metrics });
  }

  /**
   * After an invoke's answer: resolves once every extension has asked for its next event (then
   * `report`), or once `leftMs` of the invoke's time is over (`onTimeout`: the environment dies,
   * and `release` reports it as timed out).
   */
  hold(leftMs: number, report: (status?: 'timeout' | 'error') => void, onTimeout: () => void): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.p.clock.setTimer(leftMs, onTimeout);
      this.finishHold = (status) => {
        this.finishHold = undefined;
        timer.cancel();
        report(status);
        resolve();
      };
      this.whenIdle(() => this.finishHold?.());
    });
  }

  /** The environment died while held: the REPORT says how. */
  release(status: 'timeout' | 'error'): void {
    this.finishHold?.(status);
  }

  /** SHUTDOWN to the extensions that take it; resolves once they are done with it, or at the deadline. */
  shutdown(reason: 'spindown' | 'timeout' | 'failure' = 'spindown'): Promise<void> {
    if (this.shuttingDown) return Promise.resolve();
    this.shuttingDown = true;
    this.telemetry.flush();
    if (!this.host.wantsShutdown) return Promise.resolve();
    this.host.send({ eventType: 'SHUTDOWN', shutdownReason: reason, deadlineMs: this.p.clock.now() + SHUTDOWN_DEADLINE_MS });
    return new Promise((resolve) => {
      const timer = this.p.clock.setTimer(SHUTDOWN_DEADLINE_MS, resolve);
      this.host.when(() => this.host.shutDown, () => {
        timer.cancel();
        resolve();
      });
    });
  }

  close(): void {
    this.shuttingDown = true;
    this.telemetry.close();
  }
}
