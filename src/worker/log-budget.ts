import type { Clock } from '../shared/clock.js';

/** How much function output one environment may produce (the rest is dropped, with a marker). */
export interface LogLimits {
  /** Sustained rate, bytes per second (a token bucket). */
  bytesPerSecond: number;
  /** What may come at once above the rate. */
  burstBytes: number;
  /** Output of one invocation (including what drains after its response). */
  bytesPerInvoke: number;
}

/**
 * A token bucket of function output for one environment, and a ceiling per invocation. A
 * function that floods its stdout gets its output cut, one marker line where the cut starts,
 * and a count at the end of the invocation; the pipes are always read, so it never blocks.
 */
export class LogBudget {
  private tokens: number;
  private refilledAt: number;
  private invokeBytes = 0;
  private droppedBytes = 0;
  private marked = false;

  constructor(private readonly limits: LogLimits, private readonly clock: Clock) {
    this.tokens = limits.burstBytes;
    this.refilledAt = clock.monotonic();
  }

  /** What of `chunk` may be written now (possibly with a marker line after it), or '' . */
  admit(chunk: Buffer): string {
    const now = this.clock.monotonic();
    this.tokens = Math.min(this.limits.burstBytes, this.tokens + ((now - this.refilledAt) / 1000) * this.limits.bytesPerSecond);
    this.refilledAt = now;
    const allowed = Math.max(0, Math.floor(Math.min(chunk.length, this.tokens, this.limits.bytesPerInvoke - this.invokeBytes)));
    this.tokens -= allowed;
    this.invokeBytes += allowed;
    const text = allowed > 0 ? chunk.subarray(0, allowed).toString() : '';
    if (allowed === chunk.length) return text;
    this.droppedBytes += chunk.length - allowed;
    if (this.marked) return text;
    this.marked = true;
    const why = this.invokeBytes >= this.limits.bytesPerInvoke ? `${this.limits.bytesPerInvoke} bytes per invocation` : `${this.limits.bytesPerSecond} bytes per second`;
    return `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}[stratus] function output truncated: over ${why}\n`;
  }

  /** Ends a period (an invocation): the line reporting what was dropped in it, if anything. */
  endPeriod(): string {
    const dropped = this.droppedBytes;
    this.invokeBytes = 0;
    this.droppedBytes = 0;
    this.marked = false;
    return dropped > 0 ? `[stratus] ${dropped} bytes of function output were dropped\n` : '';
  }
}
