import type { Clock, TimerHandle } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';

interface Waiter<T> {
  key: string;
  memoryMb: number;
  timer: TimerHandle;
  wake(handed: T | undefined): void;
  fail(err: Error): void;
}

/**
 * Cold starts waiting for room on a worker, oldest first. A waiter is woken with an environment
 * of its own key handed straight over, or with nothing (room was freed: try placing again);
 * at its deadline it is refused with 429 (ConcurrentInvocationLimitExceeded).
 */
export class CapacityQueue<T> {
  private readonly waiters: Waiter<T>[] = [];

  constructor(private readonly clock: Clock) {}

  /** Resolves with what was handed over, or undefined to try placing again (`memoryMb`: what its environment needs). */
  wait(key: string, deadlineMs: number, memoryMb = 0): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter<T> = {
        key,
        memoryMb,
        timer: this.clock.setTimer(Math.max(0, deadlineMs - this.clock.now()), () => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new StratusError('TooManyRequests', 'Rate Exceeded.', { details: { Reason: 'ConcurrentInvocationLimitExceeded' } }));
        }),
        wake: (handed) => {
          waiter.timer.cancel();
          resolve(handed);
        },
        fail: (err) => {
          waiter.timer.cancel();
          reject(err);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /**
   * Hands what `grant` makes to the oldest waiter of `key`; `grant` is called only if there is one.
   * Returns false if no cold start of that key is waiting.
   */
  handOver(key: string, grant: () => T): boolean {
    const index = this.waiters.findIndex((w) => w.key === key);
    if (index < 0) return false;
    const [waiter] = this.waiters.splice(index, 1);
    waiter?.wake(grant());
    return true;
  }

  /** Lets the oldest waiter try again (room was freed, or an idle environment could be evicted). */
  wakeOne(): void {
    this.waiters.shift()?.wake(undefined);
  }

  /** Lets the oldest waiters whose environments fit together in `roomMb` try again (a worker joined with that much memory). */
  wakeWithin(roomMb: number): void {
    let left = roomMb;
    for (const waiter of [...this.waiters]) {
      if (waiter.memoryMb > left) continue;
      left -= waiter.memoryMb;
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.wake(undefined);
    }
  }

  /** Refuses every waiter, each with its own error (the service stops granting). */
  failAll(error: () => Error): void {
    for (const waiter of this.waiters.splice(0)) waiter.fail(error());
  }
}
