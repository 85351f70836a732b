import type { Clock } from '../shared/clock.js';

/**
 * Lambda's scaling rate per function: at most `burst` new environments per `windowMs`
 * (1,000 per 10 s), refilled continuously, as a token bucket per function on the injected clock.
 */
export class ScalingRate {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(private readonly clock: Clock, private readonly burst: number, private readonly windowMs: number) {}

  /** Takes one new-environment token for the function (its ARN); false if it is scaling too fast. */
  take(functionArn: string): boolean {
    const now = this.clock.now();
    const bucket = this.buckets.get(functionArn) ?? { tokens: this.burst, atMs: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.atMs) * this.burst) / this.windowMs);
    bucket.atMs = now;
    const granted = bucket.tokens >= 1;
    if (granted) bucket.tokens -= 1;
    if (bucket.tokens >= this.burst) this.buckets.delete(functionArn);
    else this.buckets.set(functionArn, bucket);
    return granted;
  }
}
