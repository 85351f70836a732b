/**
 * Bounds how many sandboxes boot at once on a worker. A burst of cold starts on a small host
 * otherwise boots everything together and every init runs slowly enough to time out; with the
 * gate they boot in waves, each init timed from when it really starts.
 */
export class BootGate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Resolves with a release function once a boot slot is free (first come, first served). */
  async enter(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
  }
}
