import { functionOfArn } from '../shared/arns.js';
import { StratusError } from '../shared/errors.js';

/** Whose function an execution is: its account and its unqualified ARN (unique across accounts). */
export interface ExecutionOwner {
  accountId: string;
  functionArn: string;
}

/** The owner of an execution known only by its function's ARN (`arn:aws:lambda:<region>:<account>:function:<name>`). */
export function executionOwner(functionArn: string): ExecutionOwner {
  return { accountId: functionOfArn(functionArn).accountId, functionArn };
}

export interface ConcurrencyLimits {
  /** An account's concurrent executions (Lambda's default: 1,000; configurable per account). */
  accountLimit(accountId: string): number;
  /** A function's reserved concurrency, if it has one. */
  reservedFor(fn: ExecutionOwner): number | undefined;
  /** Everything reserved by the account's functions. */
  reservedTotal(accountId: string): number;
}

/**
 * Lambda's concurrency rules, applied per invocation by the assignment service (the one place
 * that sees every invocation of a cluster, whichever frontend it came through), per account: a
 * function with reserved concurrency runs at most that many at once (0 blocks it); the others
 * share what their account has left after its reservations. One account's load never counts
 * against another's. Over a limit: 429 with the matching Reason.
 */
export class ConcurrencyLimiter {
  private readonly inFlight = new Map<string, number>();
  private readonly unreservedInFlight = new Map<string, number>();

  constructor(private readonly limits: ConcurrencyLimits) {}

  /** Counts one execution in, or throws TooManyRequests; call the returned function when it ends. */
  enter(fn: ExecutionOwner): () => void {
    const reserved = this.limits.reservedFor(fn);
    const mine = this.inFlight.get(fn.functionArn) ?? 0;
    if (reserved !== undefined && mine >= reserved) throw throttled('ReservedFunctionConcurrentInvocationLimitExceeded');
    const shared = this.unreservedInFlight.get(fn.accountId) ?? 0;
    if (reserved === undefined && shared >= this.limits.accountLimit(fn.accountId) - this.limits.reservedTotal(fn.accountId)) {
      throw throttled('ConcurrentInvocationLimitExceeded');
    }
    return this.enterAnyway(fn);
  }

  /** Counts an execution that is already running (found by a new assignment leader). */
  enterAnyway(fn: ExecutionOwner): () => void {
    const shared = this.limits.reservedFor(fn) === undefined;
    const add = (map: Map<string, number>, key: string, n: number) => {
      const now = (map.get(key) ?? 0) + n;
      if (now > 0) map.set(key, now);
      else map.delete(key);
    };
    add(this.inFlight, fn.functionArn, 1);
    if (shared) add(this.unreservedInFlight, fn.accountId, 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      add(this.inFlight, fn.functionArn, -1);
      if (shared) add(this.unreservedInFlight, fn.accountId, -1);
    };
  }
}

function throttled(reason: string): StratusError {
  return new StratusError('TooManyRequests', 'Rate Exceeded.', { details: { Reason: reason } });
}
