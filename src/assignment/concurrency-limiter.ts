import { StratusError } from '../shared/errors.js';

export interface ConcurrencyLimits {
  /** The account's concurrent executions (Lambda's default: 1,000). */
  accountLimit: number;
  /** A function's reserved concurrency, if it has one. */
  reservedFor(functionName: string): number | undefined;
  /** Everything reserved, by all functions. */
  reservedTotal(): number;
}

/**
 * Lambda's concurrency rules, applied per invocation by the assignment service (the one place
 * that sees every invocation of a cluster, whichever frontend it came through): a function with reserved
 * concurrency runs at most that many at once (0 blocks it); the others share what the account
 * has left after all reservations. Over a limit: 429 with the matching Reason.
 */
export class ConcurrencyLimiter {
  private readonly inFlight = new Map<string, number>();
  private unreservedInFlight = 0;

  constructor(private readonly limits: ConcurrencyLimits) {}

  /** Counts one execution in, or throws TooManyRequests; call the returned function when it ends. */
  enter(functionName: string): () => void {
    const reserved = this.limits.reservedFor(functionName);
    const mine = this.inFlight.get(functionName) ?? 0;
    if (reserved !== undefined && mine >= reserved) throw throttled('ReservedFunctionConcurrentInvocationLimitExceeded');
    if (reserved === undefined && this.unreservedInFlight >= this.limits.accountLimit - this.limits.reservedTotal()) {
      throw throttled('ConcurrentInvocationLimitExceeded');
    }
    return this.enterAnyway(functionName);
  }

  /** Counts an execution that is already running (found by a new assignment leader). */
  enterAnyway(functionName: string): () => void {
    const mine = this.inFlight.get(functionName) ?? 0;
    const shared = this.limits.reservedFor(functionName) === undefined;
    this.inFlight.set(functionName, mine + 1);
    if (shared) this.unreservedInFlight++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const now = (this.inFlight.get(functionName) ?? 1) - 1;
      if (now > 0) this.inFlight.set(functionName, now);
      else this.inFlight.delete(functionName);
      if (shared) this.unreservedInFlight--;
    };
  }
}

function throttled(reason: string): StratusError {
  return new StratusError('TooManyRequests', 'Rate Exceeded.', { details: { Reason: reason } });
}
