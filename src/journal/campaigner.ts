import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';
import type { Candidate, LeaderElection, Leadership } from './journal.js';

export interface CampaignerDeps {
  election: LeaderElection;
  candidate: Candidate;
  clock: Clock;
  log: Logger;
  /** What is led, for the logs ("placement", "scheduler"). */
  role: string;
  /**
   * Takes over with `leadership`: starts what only the leader does, and resolves the function that
   * ends it (called once the leadership is lost, or on stop). A rejection is a failed take-over.
   */
  lead(leadership: Leadership): Promise<() => Promise<void>>;
  /** The first wait before campaigning again after a failure (default 500 ms); it doubles with each failure in a row. */
  retryFirstMs?: number;
  /** The longest such wait (the leadership's TTL, say). Default 5 s. */
  retryMaxMs?: number;
}

/**
 * One process's part in an election: it campaigns, leads (calls `lead`) once elected, and when the
 * leadership is lost ends what it led (the function `lead` resolved) and campaigns again. A failed
 * campaign or take-over (etcd unreachable, watches failing) is not retried at once: the next
 * attempt waits, doubling from `retryFirstMs` up to `retryMaxMs`, on the injected clock; a failed
 * take-over resigns first, so another candidate can be elected meanwhile. Stopping ends the
 * leadership and resigns it, so a successor takes over without waiting for the TTL.
 */
export class Campaigner {
  private leadership: Leadership | undefined;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private takeOvers = 0;

  constructor(private readonly deps: CampaignerDeps) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** The leadership, from when `lead` resolved until it is lost (its standing may already say 'lost'). */
  current(): Leadership | undefined {
    return this.leadership;
  }

  /** Leaderships taken over (each `lead` that resolved). */
  elected(): number {
    return this.takeOvers;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { election, candidate, log, role } = this.deps;
    const signal = this.stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      let leadership: Leadership;
      try {
        leadership = await election.campaign(candidate, signal);
      } catch (err) {
        if (signal.aborted) return;
        log.warn({ err }, `campaigning for the ${role} leadership failed; trying again`);
        await this.pause(++failures);
        continue;
      }
      const led = await this.lead(leadership);
      failures = led ? 0 : failures + 1;
      if (failures > 0 && !signal.aborted) await this.pause(failures);
    }
  }

  /** Leads once: take over, wait for the loss (or stop), end. Resolves whether the take-over succeeded. */
  private async lead(leadership: Leadership): Promise<boolean> {
    const { log, role, clock } = this.deps;
    const signal = this.stopping.signal;
    const started = clock.monotonic();
    let end: (() => Promise<void>) | undefined;
    try {
      end = await this.deps.lead(leadership);
      this.leadership = leadership;
      this.takeOvers++;
      log.info({ epoch: leadership.epoch, takeOverMs: Math.round(clock.monotonic() - started) }, `elected ${role} leader`);
    } catch (err) {
      log.error({ err }, `taking over the ${role} leadership failed; resigning`);
    }
    const reason = end ? await untilAborted(signal, leadership.lost, 'stopping') : 'take-over failed';
    this.leadership = undefined;
    await end?.().catch((err: unknown) => log.warn({ err }, `ending the ${role} leadership failed`));
    if (signal.aborted || !end) await leadership.resign().catch(() => undefined);
    if (!signal.aborted) log.warn({ epoch: leadership.epoch, reason }, `${role} leadership lost: no longer acting as its leader`);
    return end !== undefined;
  }

  /** Waits after the `failures`-th failure in a row (doubling, capped), or until stopped. */
  private pause(failures: number): Promise<void> {
    const first = this.deps.retryFirstMs ?? 500;
    const ms = Math.min(first * 2 ** (failures - 1), this.deps.retryMaxMs ?? 5000);
    let timer: { cancel(): void } | undefined;
    const elapsed = new Promise<void>((resolve) => (timer = this.deps.clock.setTimer(ms, resolve)));
    return untilAborted(this.stopping.signal, elapsed, undefined).finally(() => timer?.cancel());
  }
}

/** `promise`, or `onAbort` as soon as `signal` aborts (at once if it has). */
async function untilAborted<T, U>(signal: AbortSignal, promise: Promise<T>, onAbort: U): Promise<T | U> {
  let listener: (() => void) | undefined;
  const aborted = new Promise<U>((resolve) => {
    listener = () => resolve(onAbort);
    if (signal.aborted) listener();
    else signal.addEventListener('abort', listener, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (listener) signal.removeEventListener('abort', listener);
  }
}
