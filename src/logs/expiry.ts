import type { LogStore } from '../journal/index.js';
import type { Clock, TimerHandle } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';

/** Each account's function logs, unless configured: what one machine's disk holds easily, and a share of etcd's few GiB. */
export const DEFAULT_LOG_BYTES_PER_ACCOUNT = { sqlite: 1024 ** 3, etcd: 64 * 1024 ** 2 } as const;

export interface LogExpiryDeps {
  store: LogStore;
  clock: Clock;
  /** Each account's cap on stored log bytes (CloudWatch's count: message bytes plus 26 per event). */
  maxBytesPerAccount: number;
  intervalMs: number;
  log: Logger;
}

/**
 * The periodic sweep of function logs: every `intervalMs` it removes events past their group's
 * retention and, beyond each account's byte cap, the account's earliest-appended events. One
 * process of an installation runs it (`stratus up`, or a cluster's placement process); sweeps
 * never overlap, and a failed one is logged and tried again at the next interval.
 */
export class LogExpiry {
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly deps: LogExpiryDeps) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Stops the timer and waits for a sweep under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
  }

  /** Resolves once no sweep is under way. */
  async idle(): Promise<void> {
    await this.running;
  }

  /** Runs one sweep now, unless one is under way; resolves the bytes it removed (0 if it did not run or failed). */
  async sweep(): Promise<number> {
    if (this.running) return 0;
    let removed = 0;
    this.running = (async () => {
      try {
        removed = await this.deps.store.expire(this.deps.clock.now(), this.deps.maxBytesPerAccount);
        if (removed > 0) this.deps.log.info({ removedBytes: removed }, 'expired function logs');
      } catch (err) {
        this.deps.log.warn({ err }, 'expiring function logs failed; trying again at the next interval');
      } finally {
        this.running = undefined;
      }
    })();
    await this.running;
    return removed;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.deps.clock.setTimer(this.deps.intervalMs, () => {
      void this.sweep().then(() => this.schedule());
    });
  }
}
