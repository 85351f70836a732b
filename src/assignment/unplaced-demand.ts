/**
 * Cold starts that found no worker with room, for the fleet scaler (placement adds a worker when
 * there are any). A running count, so that a reader who missed some readings loses nothing and a
 * stored copy never grows: each cold start counts once when it first has to wait for room, and
 * each reading adds the cold starts still waiting then, so demand that stays unserved keeps the
 * count rising for as long as it waits (a 429 at the end of the wait was counted while it waited).
 *
 * Only demand a new worker could serve is counted: a cold start whose memory exceeds every known
 * worker's (a tenant's function larger than any worker) waits and gets its 429 all the same, but
 * adds nothing, so such requests cannot grow the fleet. Throttles for a function's or an account's
 * own limits (concurrency, scaling rate) never get this far: more workers would not cure them.
 */
export class UnplacedDemand {
  private count = 0;
  private waiting = 0;

  /** `fits`: whether a worker like those known could hold an environment of this memory at all. */
  constructor(private readonly fits: (memoryMb: number) => boolean) {}

  /** Runs one wait for room of a cold start (`first`: its first), counting it if it is demand. */
  async waitForRoom<T>(memoryMb: number, first: boolean, wait: Promise<T>): Promise<T> {
    if (!this.fits(memoryMb)) return wait;
    if (first) this.count++;
    this.waiting++;
    try {
      return await wait;
    } finally {
      this.waiting--;
    }
  }

  /** The running count, with the cold starts waiting now added to it (each reading adds them again). */
  read(): number {
    this.count += this.waiting;
    return this.count;
  }
}
