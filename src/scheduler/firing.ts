import { randomUUID } from 'node:crypto';
import { functionTarget, newQueuedInvocation } from '../async/index.js';
import type { QueuedEvent, ScheduleStore, ScheduleWrite, StoredSchedule } from '../journal/index.js';
import type { Clock, TimerHandle } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';
import { scheduleArn, type ScheduleDocument } from './model.js';
import { nextFiring, type Random } from './planning.js';
import { readSchedule } from './schedules.js';

export interface ScheduleFiringDeps {
  store: ScheduleStore;
  clock: Clock;
  log: Logger;
  region: string;
  /** Whether `accountId` has the function (at the qualifier, if given) now. */
  /** The largest event an Event invoke takes (the frontend's maxAsyncPayloadBytes): a bigger one is dropped. */
  maxPayloadBytes: number;
  functionExists(accountId: string, functionName: string, qualifier: string | undefined): boolean;
  random?: Random;
  /** How often the journal is asked for due schedules (other processes may have changed them). */
  pollMs?: number;
}

/** What one firing did. */
export type FiringOutcome = 'invoked' | 'dead-lettered' | 'dropped' | 'expired' | 'lost-race';

/**
 * Fires due schedules. Each firing is one atomic commit of the journal (`ScheduleStore.fire`):
 * the schedule advances to its next due time, or completes, in the same transaction that queues
 * the Event invoke, and only if nobody fired or changed the schedule since it was read. So a
 * crash before the commit fires the due time after the restart, and a crash after it, or a second
 * process firing the same schedule, cannot fire it again: each due time fires exactly once. The
 * Event invoke then runs through the async queue (at least once, with the function's own retries).
 * Run by one process of an installation (`stratus up`, or a cluster's elected scheduler leader).
 */
export class ScheduleFiring {
  private timer: TimerHandle | undefined;
  private running: Promise<number> | undefined;
  private again = false;
  private started = false;
  /** Bumped by every start: a poll of an earlier start does not schedule another. */
  private generation = 0;
  private stopped = false;
  private readonly random: Random;

  constructor(private readonly deps: ScheduleFiringDeps) {
    this.random = deps.random ?? Math.random;
  }

  /** Starts polling (again, after a stop). */
  start(): void {
    this.started = true;
    this.stopped = false;
    this.timer?.cancel();
    this.tick(++this.generation);
  }

  /** Stops polling and waits for a pass under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }

  /** Looks for due schedules now (after a change made in this process). */
  wake(): void {
    if (this.started && !this.stopped) void this.runDue();
  }

  /** Fires every schedule due now; resolves how many firings committed. One pass at a time. */
  async runDue(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let committed = 0;
      do {
        this.again = false;
        committed += await this.pass();
      } while (this.again && !this.stopped);
      return committed;
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  private tick(generation: number): void {
    if (this.stopped || generation !== this.generation) return;
    void this.runDue().finally(() => {
      if (!this.stopped && generation === this.generation) this.timer = this.deps.clock.setTimer(this.deps.pollMs ?? 1000, () => this.tick(generation));
    });
  }

  private async pass(): Promise<number> {
    let committed = 0;
    try {
      for (;;) {
        const due = await this.deps.store.due(this.deps.clock.now(), 50);
        let progress = 0;
        for (const stored of due) {
          if (this.stopped) return committed;
          // One schedule that cannot be fired (say, the journal refused its commit) holds up no other.
          const outcome = await this.fire(stored).catch((err: unknown) => {
            this.deps.log.warn({ err, schedule: stored.key }, 'firing a schedule failed; trying again at the next poll');
            return 'lost-race' as const;
          });
          if (outcome !== 'lost-race') progress++;
        }
        committed += progress;
        if (due.length === 0 || progress === 0) return committed;
      }
    } catch (err) {
      this.deps.log.warn({ err }, 'firing schedules failed; trying again at the next poll');
      return committed;
    }
  }

  /** Fires one due schedule (advancing it past the due time it stood for). */
  async fire(stored: StoredSchedule): Promise<FiringOutcome> {
    const now = this.deps.clock.now();
    const doc = readSchedule(stored);
    const nominal = doc.nominalMs ?? stored.dueAtMs ?? now;
    const maxAgeMs = doc.target.retryPolicy.maximumEventAgeInSeconds * 1000;
    const expired = now - nominal > maxAgeMs;
    // Due times missed for longer than the event's maximum age (Stratus was down) are skipped, not fired late.
    const next = nextFiring(doc, expired ? Math.max(nominal, now - maxAgeMs) : nominal, this.random);
    const write = this.advance(doc, next);
    const planned = expired ? { outcome: 'expired' as const } : this.event(doc, nominal, now);
    const ok = planned.event
      ? await this.deps.store.fire(stored.key, stored.revision, write, planned.event)
      : write ? await this.deps.store.replace(stored.key, write, stored.revision) : await this.deps.store.delete(stored.key, stored.revision);
    const outcome = ok ? planned.outcome : 'lost-race';
    const log = { account: doc.accountId, schedule: `${doc.groupName}/${doc.name}`, scheduledTime: new Date(nominal).toISOString(), outcome };
    if (outcome === 'invoked' || outcome === 'lost-race') this.deps.log.debug(log, 'schedule fired');
    else this.deps.log.warn(log, 'schedule fired without invoking its target');
    return outcome;
  }

  private advance(doc: ScheduleDocument, next: { nominalMs: number; dueAtMs: number } | undefined): ScheduleWrite | undefined {
    const { nominalMs: _done, ...rest } = doc;
    if (next) return { value: { ...rest, nominalMs: next.nominalMs }, revision: randomUUID(), dueAtMs: next.dueAtMs };
    return doc.actionAfterCompletion === 'DELETE' ? undefined : { value: rest, revision: randomUUID() };
  }

  /**
   * The Event invoke of one firing: the target function of the schedule's own account (never the
   * account an ARN names), or, if it does not exist, the dead-letter function with the failure.
   */
  private event(doc: ScheduleDocument, nominalMs: number, nowMs: number): { event?: QueuedEvent; outcome: FiringOutcome } {
    const executionId = randomUUID();
    const arn = scheduleArn(this.deps.region, doc);
    const input = substitute(doc.target.input ?? '{}', { arn, nominalMs, executionId });
    const target = functionTarget(doc.target.arn);
    // Placeholders may make the input longer than an Event invoke takes: such a firing is dropped, never retried (it would block the schedule).
    if (Buffer.byteLength(input) > this.deps.maxPayloadBytes) return { outcome: 'dropped' };
    if (target && target.accountId === doc.accountId && this.deps.functionExists(doc.accountId, target.functionName, target.qualifier)) {
      return { event: this.invocation(doc.accountId, target.functionName, target.qualifier, executionId, input, nowMs), outcome: 'invoked' };
    }
    const dlq = doc.target.deadLetterArn === undefined ? undefined : functionTarget(doc.target.deadLetterArn);
    if (!dlq || dlq.accountId !== doc.accountId || !this.deps.functionExists(doc.accountId, dlq.functionName, dlq.qualifier)) return { outcome: 'dropped' };
    const letter = {
      ScheduleArn: arn, TargetArn: doc.target.arn, ExecutionId: executionId, ScheduledTime: isoSeconds(nominalMs), AttemptNumber: 1,
      ErrorCode: 'ResourceNotFoundException', ErrorMessage: `The target function ${doc.target.arn} does not exist.`, Input: input,
    };
    return { event: this.invocation(doc.accountId, dlq.functionName, dlq.qualifier, randomUUID(), JSON.stringify(letter), nowMs), outcome: 'dead-lettered' };
  }

  private invocation(accountId: string, functionName: string, qualifier: string | undefined, requestId: string, payload: string, nowMs: number): QueuedEvent {
    return newQueuedInvocation({ accountId, functionName, qualifier, requestId, payload: Buffer.from(payload), tailLog: false }, nowMs);
  }
}

/** EventBridge Scheduler's context attributes in a target's input. */
function substitute(input: string, ctx: { arn: string; nominalMs: number; executionId: string }): string {
  return input
    .replaceAll('<aws.scheduler.schedule-arn>', ctx.arn)
    .replaceAll('<aws.scheduler.scheduled-time>', isoSeconds(ctx.nominalMs))
    .replaceAll('<aws.scheduler.execution-id>', ctx.executionId)
    .replaceAll('<aws.scheduler.attempt-number>', '1');
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
