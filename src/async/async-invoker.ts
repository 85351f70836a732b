import { randomUUID } from 'node:crypto';
import type { ClaimedEvent, EventQueue } from '../journal/index.js';
import type { FunctionRegistries } from '../registry/index.js';
import type { Clock, TimerHandle } from '../shared/clock.js';
import type { AsyncInvokeConfig } from '../shared/config.js';
import { errorMessage, isStratusError, StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { Metrics } from '../shared/metrics.js';
import {
  deadLetterEvent, destinationEvent, MAX_CHAIN_EVENTS, withinChain, functionTarget, invocationRecord, newQueuedInvocation, readQueuedInvocation, toRunRequest,
  type Condition, type QueuedInvocation,
} from './async-event.js';
import type { RunInvocation, RunOutcome, RunRequest } from './runner.js';

/** What governs one function's (or qualifier's) events: its event invoke config, or Lambda's defaults. */
export interface EventSettings {
  /** Unqualified ARN of the function. */
  functionArn: string;
  maxRetryAttempts: number;
  maxEventAgeMs: number;
  onSuccess?: string;
  onFailure?: string;
  /** DeadLetterConfig's target function: the event itself, once its retries ran out. */
  deadLetter?: string;
}

export interface AsyncInvokerDeps {
  queue: EventQueue;
  invoke: RunInvocation;
  /** Throws ResourceNotFound when the function (or qualifier) no longer exists. */
  settings(accountId: string, functionName: string, qualifier: string | undefined): EventSettings;
  /** The owner of events queued before there were accounts (the administrator). */
  unownedAccountId: string;
  config: AsyncInvokeConfig;
  clock: Clock;
  log: Logger;
  /** This consumer's name in claims; unique per process. */
  owner?: string;
  /** Events queued, their age when run, and those given up. */
  metrics?: Metrics;
}

/**
 * Event (asynchronous) invocations on the journal's durable queue. `accept` resolves once the
 * event is committed; a pump in every frontend process claims due events, runs them, and
 * retries, reschedules or finishes each one (see docs/journal-and-failover.md). A process that
 * dies holding claims leaves them to expire: the events run again elsewhere (at least once).
 */
export class AsyncInvoker {
  readonly owner: string;
  private running = 0;
  private started = false;
  private pumping = false;
  private readonly renewals = new Set<TimerHandle>();
  private again = false;
  private stopped = false;
  private poll: TimerHandle | undefined;

  constructor(private readonly deps: AsyncInvokerDeps) {
    this.owner = deps.owner ?? `frontend-${randomUUID()}`;
  }

  /** Starts claiming: at once, on every local enqueue, and every pollMs. */
  start(): void {
    this.started = true;
    const tick = () => {
      this.poll = this.deps.clock.setTimer(this.deps.config.pollMs, tick);
      this.wake();
    };
    tick();
  }

  /** Queues an Event invoke durably; a journal failure is a 503 and nothing is accepted. */
  async accept(request: RunRequest): Promise<void> {
    let stored: boolean;
    try {
      stored = await this.deps.queue.put(newQueuedInvocation(request, this.deps.clock.now()));
    } catch (cause) {
      this.deps.log.error({ err: cause, requestId: request.requestId }, 'event could not be queued');
      throw new StratusError('ServiceUnavailable', 'The event could not be queued durably. Try again.', { cause });
    }
    // Not stored: an event of this request's id (fresh per request) is queued already, by this very
    // put, whose journal client retried it after its first attempt committed (etcd). Accepted.
    if (!stored) this.deps.log.warn({ requestId: request.requestId }, 'event was queued by an earlier attempt of the same put');
    this.deps.metrics?.asyncQueuedEvent(request.accountId, request.functionName);
    this.wake();
  }

  /**
   * Stops claiming and renewing claims. Events still running finish without writing anything:
   * their claims expire and they run again (here after a restart, or in another process).
   */
  stop(): void {
    this.stopped = true;
    this.poll?.cancel();
    for (const renewal of this.renewals) renewal.cancel();
  }

  private wake(): void {
    if (!this.started || this.stopped) return;
    this.again = true;
    if (this.pumping) return;
    this.pumping = true;
    void this.pump();
  }

  /** Claims while there is room and something may be due; `again` is set by wake-ups meanwhile. */
  private async pump(): Promise<void> {
    const { concurrency, claimMs } = this.deps.config;
    try {
      while (this.again && !this.stopped) {
        this.again = false;
        const room = concurrency - this.running;
        if (room <= 0) return; // a finishing event wakes the pump
        const claimed = await this.deps.queue.claim(this.owner, this.deps.clock.now(), claimMs, room);
        if (this.stopped) return; // what was just claimed is left to expire
        for (const item of claimed) this.launch(item);
        if (claimed.length === room) this.again = true;
      }
    } catch (err) {
      this.deps.log.error({ err }, 'claiming queued events failed');
    } finally {
      this.pumping = false;
    }
  }

  private launch(item: ClaimedEvent): void {
    this.running++;
    void this.run(item)
      .catch((err: unknown) => this.deps.log.error({ err, event: item.id }, 'queued event failed in the platform; its claim will expire'))
      .finally(() => {
        this.running--;
        this.wake();
      });
  }

  private async run(item: ClaimedEvent): Promise<void> {
    const ev = readQueuedInvocation(item.value, this.deps.unownedAccountId);
    let settings: EventSettings;
    try {
      settings = this.deps.settings(ev.accountId, ev.functionName, ev.qualifier);
    } catch (err) {
      if (!isStratusError(err) || err.code !== 'ResourceNotFound') throw err;
      this.deps.log.warn({ requestId: ev.requestId, function: ev.functionName }, 'event dropped: its function no longer exists');
      this.deps.metrics?.asyncDroppedEvent(ev.accountId, ev.functionName, 'FunctionDeleted');
      return this.settle(item, ev, []);
    }
    const ageMs = this.deps.clock.now() - ev.acceptedAtMs;
    if (ageMs >= settings.maxEventAgeMs) return this.finish(item, ev, settings, 'EventAgeExceeded');
    this.deps.metrics?.asyncAttempt(ev.accountId, ev.functionName, ageMs);
    const next: QueuedInvocation = { ...ev, attempts: ev.attempts + 1 };
    const renewal = this.keepClaim(item.id);
    let outcome: RunOutcome;
    try {
      outcome = await this.deps.invoke(toRunRequest(ev));
    } catch (err) {
      return this.platformRetry(item, { ...next, platformErrors: ev.platformErrors + 1 }, err);
    } finally {
      renewal.cancel();
    }
    const { result, version } = outcome;
    const payload = result.outcome.kind === 'streamed' ? '' : result.outcome.payload.toString('base64');
    const failed = result.outcome.kind === 'function-error';
    next.last = { statusCode: 200, executedVersion: version.version, payload, ...(failed ? { functionError: 'Unhandled' } : {}) };
    next.platformErrors = 0;
    if (!failed) return this.finish(item, next, settings, 'Success');
    next.functionErrors = ev.functionErrors + 1;
    if (next.functionErrors > settings.maxRetryAttempts) return this.finish(item, next, settings, 'RetriesExhausted');
    const delays = this.deps.config.retryDelaysMs;
    const delay = delays[next.functionErrors - 1] ?? delays.at(-1) ?? 0;
    await this.reschedule(item, next, delay);
  }

  private async platformRetry(item: ClaimedEvent, next: QueuedInvocation, err: unknown): Promise<void> {
    const { platformRetryBaseMs, platformRetryMaxMs } = this.deps.config;
    const delay = Math.min(platformRetryMaxMs, platformRetryBaseMs * 2 ** Math.min(30, next.platformErrors - 1));
    this.deps.log.warn({ requestId: next.requestId, function: next.functionName, failure: errorMessage(err), retryInMs: delay }, 'event not run; retrying');
    await this.reschedule(item, next, delay);
  }

  private async reschedule(item: ClaimedEvent, next: QueuedInvocation, delayMs: number): Promise<void> {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    if (!(await this.deps.queue.reschedule({ id: item.id, dueAtMs: now + delayMs, value: next }, this.owner, now))) {
      this.deps.log.warn({ event: item.id }, 'claim lost before the event could be rescheduled: another consumer runs it');
      return;
    }
    this.deps.clock.setTimer(delayMs, () => this.wake());
  }

  /** The event is done: its record goes to the destination for `condition`, if any. */
  private async finish(item: ClaimedEvent, ev: QueuedInvocation, settings: EventSettings, condition: Condition): Promise<void> {
    const destination = condition === 'Success' ? settings.onSuccess : settings.onFailure;
    if (condition !== 'Success') {
      this.deps.metrics?.asyncDroppedEvent(ev.accountId ?? this.deps.unownedAccountId, ev.functionName, condition);
      this.deps.log.warn({ requestId: ev.requestId, function: ev.functionName, condition, attempts: ev.attempts }, 'event failed');
    }
    const now = this.deps.clock.now();
    const target = destination === undefined ? undefined : functionTarget(destination);
    const record = target && invocationRecord(ev, settings.functionArn, condition, now);
    const deadLetter = condition !== 'Success' && settings.deadLetter !== undefined ? functionTarget(settings.deadLetter) : undefined;
    const followUps = [
      ...(target && record ? [destinationEvent(target, record, item.id, now)] : []),
      ...(deadLetter ? [deadLetterEvent(deadLetter, ev.payload, item.id, now)] : []),
    ];
    const allowed = withinChain(ev, followUps);
    if (allowed.length < followUps.length) {
      this.deps.log.warn({ requestId: ev.requestId, function: ev.functionName }, `a chain of destination and dead-letter events stopped at ${MAX_CHAIN_EVENTS} events: it loops`);
    }
    await this.settle(item, ev, allowed);
  }

  /** Queues the destination's and dead-letter events (if any) before removing the item: a crash between the two repeats them, never loses them. */
  private async settle(item: ClaimedEvent, ev: QueuedInvocation, followUps: ReturnType<typeof destinationEvent>[]): Promise<void> {
    if (this.stopped) return;
    for (const event of followUps) await this.deps.queue.put(event); // false: queued by an earlier try already
    if (!(await this.deps.queue.remove(item.id, this.owner, this.deps.clock.now()))) {
      this.deps.log.warn({ requestId: ev.requestId }, 'claim lost before the event was removed: it may run again');
    }
    if (followUps.length > 0) this.wake();
  }

  /** Renews the claim at a third of its length while the invocation runs. */
  private keepClaim(id: string): TimerHandle {
    const { claimMs } = this.deps.config;
    const every = Math.max(1, Math.floor(claimMs / 3));
    let timer: TimerHandle;
    const renew = () => {
      timer = this.deps.clock.setTimer(every, renew);
      this.deps.queue.extend(id, this.owner, this.deps.clock.now(), claimMs).then(
        (held) => held || this.deps.log.warn({ event: id }, 'claim lost while the event runs: it may run twice'),
        (err: unknown) => this.deps.log.error({ err, event: id }, 'claim renewal failed'),
      );
    };
    timer = this.deps.clock.setTimer(every, renew);
    const handle = { cancel: () => (timer.cancel(), this.renewals.delete(handle)) };
    this.renewals.add(handle);
    return handle;
  }
}

const DEFAULT_RETRY_ATTEMPTS = 2;
const DEFAULT_MAX_EVENT_AGE_S = 21_600;

/** Event settings from the registry: the invoked qualifier's event invoke config, else Lambda's defaults. */
export function eventSettings(registries: FunctionRegistries): AsyncInvokerDeps['settings'] {
  return (accountId, functionName, qualifier) => {
    const registry = registries.for(accountId);
    const { deadLetterTargetArn } = registry.resolve(functionName, qualifier);
    const config = registry.get(functionName).eventInvoke?.[qualifier ?? '$LATEST'];
    return {
      functionArn: registry.functionArn(functionName),
      maxRetryAttempts: config?.maximumRetryAttempts ?? DEFAULT_RETRY_ATTEMPTS,
      maxEventAgeMs: (config?.maximumEventAgeInSeconds ?? DEFAULT_MAX_EVENT_AGE_S) * 1000,
      ...(config?.onSuccess ? { onSuccess: config.onSuccess } : {}),
      ...(config?.onFailure ? { onFailure: config.onFailure } : {}),
      ...(deadLetterTargetArn ? { deadLetter: deadLetterTargetArn } : {}),
    };
  };
}
