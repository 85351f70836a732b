import { PassThrough, Writable } from 'node:stream';
import type { ResponseSink } from './invocation.js';

/**
 * The receiving end of a streamed response, for an HTTP reply that passes it on (the Lambda
 * API's, or the worker API's to a remote caller): the worker writes into the sink it opens, the
 * reply reads `chunks`. Back-pressure from the client reaches the runtime; a client that goes
 * away (`cancel`) makes the rest of the response go nowhere instead of stalling the function.
 */
export class StreamRelay implements ResponseSink {
  /** Resolves with the runtime's content type once the first bytes are on their way. */
  readonly opened: Promise<string>;
  private markOpened!: (contentType: string) => void;
  private readonly out = new PassThrough();
  private sink: Writable | undefined;
  private openedAs: string | undefined;
  private waiting: (() => void) | undefined;
  private cancelled = false;

  constructor() {
    this.opened = new Promise((resolve) => (this.markOpened = resolve));
    this.out.on('error', () => {});
  }

  open(contentType: string): Writable {
    this.openedAs = contentType;
    this.markOpened(contentType);
    this.sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => this.forward(chunk, done),
      // Runs once every chunk written before end() has been passed on.
      final: (done) => {
        this.out.end();
        done();
      },
    });
    this.sink.on('error', () => {});
    return this.sink;
  }

  /** The content type once the sink was opened (undefined until then). */
  get contentType(): string | undefined {
    return this.openedAs;
  }

  /** What the worker wrote, in order; ends after `end()`. */
  get chunks(): AsyncIterable<Buffer> {
    return this.out;
  }

  /** The invocation is over: `chunks` ends once what the worker wrote has been passed on. */
  end(): void {
    if (this.sink) this.sink.end();
    else this.out.end();
  }

  cancel(): void {
    this.cancelled = true;
    this.release();
    this.out.destroy();
  }

  private forward(chunk: Buffer, done: () => void): void {
    if (this.cancelled || this.out.write(chunk)) return done();
    this.waiting = done;
    this.out.once('drain', () => this.release());
  }

  private release(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}
