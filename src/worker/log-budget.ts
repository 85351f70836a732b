import type { Clock } from '../shared/clock.js';
import { PlatformLog } from './log-lines.js';

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

  /** `lines`: the platform lines its markers are written as (the function's LoggingConfig; default Text). */
  constructor(
    private readonly limits: LogLimits, private readonly clock: Clock,
    private readonly lines: () => Pick<PlatformLog, 'truncated' | 'dropped'> = () => new PlatformLog(undefined, () => clock.now()),
  ) {
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
    return `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}${this.lines().truncated(why)}`;
  }

  /** Ends a period (an invocation): the line reporting what was dropped in it, if anything. */
  endPeriod(): string {
    const dropped = this.droppedBytes;
    this.invokeBytes = 0;
    this.droppedBytes = 0;
    this.marked = false;
    return this.lines().dropped(dropped);
  }
}
