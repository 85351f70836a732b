import type { Writable } from 'node:stream';
import type { ResponseSink } from './invocation.js';

/**
 * Writes a streamed response into an invocation's sink: opens it at the first chunk, pauses
 * `source` while the sink is full, and tells when the sink has taken every chunk written (or was
 * destroyed, which settles its pending writes too). A result is handed over only after that, so
 * no part of the body can arrive after it.
 */
export class SinkWriter {
  private target: Writable | undefined;
  private unsettled = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly sink: ResponseSink, private readonly contentType: string, private readonly source: { pause(): void; resume(): void }) {}

  /** Whether anything was written (the sink was opened). */
  get opened(): boolean {
    return this.target !== undefined;
  }

  write(chunk: Buffer): void {
    const target = (this.target ??= this.sink.open(this.contentType));
    this.unsettled++;
    const taken = target.write(chunk, () => {
      if (--this.unsettled === 0) for (const wake of this.waiting.splice(0)) wake();
    });
    if (taken) return;
    this.source.pause();
    target.once('drain', () => this.source.resume());
  }

  /** Resolves once the sink has taken every chunk written so far. */
  settled(): Promise<void> {
    return this.unsettled === 0 ? Promise.resolve() : new Promise((resolve) => this.waiting.push(resolve));
  }
}
