import type { Readable } from 'node:stream';
import { errorDocument, type InvocationOutcome, type ResponseSink } from './invocation.js';
import { SinkWriter } from './sink-writer.js';

/** A response the runtime streams (Lambda-Runtime-Function-Response-Mode: streaming). */
export interface StreamedResponse {
  contentType: string;
  /** The body as the runtime writes it (HTTP chunked). */
  body: Readable;
  /** Lambda-Runtime-Function-Error-Type / -Error-Body (base64), readable once `body` has ended. */
  errorTrailers(): { errorType?: string; errorBody?: string };
}

const TOO_LARGE = 'Function.ResponseSizeTooLarge';

/**
 * Moves one streamed response from the runtime to where it goes: chunk by chunk into the
 * invocation's sink as they arrive (pausing the runtime when the sink is full), or, for a
 * caller that wants the whole payload, into a buffer of at most `maxBufferedBytes`.
 */
export class ResponseRelay {
  /** How the response ended, once the runtime has finished it. */
  readonly done: Promise<InvocationOutcome>;
  private readonly writer: SinkWriter | undefined;
  private readonly buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private tooLarge = false;
  private stopped = false;

  constructor(private readonly response: StreamedResponse, sink: ResponseSink | undefined, private readonly maxBufferedBytes: number) {
    this.writer = sink && new SinkWriter(sink, response.contentType, response.body);
    this.done = new Promise((resolve) => {
      response.body.on('data', (chunk: Buffer) => this.chunk(chunk));
      response.body.on('end', () => void (this.writer?.settled() ?? Promise.resolve()).then(() => resolve(this.outcome())));
      // A runtime that dies mid-stream is reported by the environment's death, not here.
      response.body.on('error', () => {});
    });
  }

  /** The invocation is over (finished, timed out, crashed): forward nothing more. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.response.body.resume();
  }

  private chunk(chunk: Buffer): void {
    if (this.stopped || chunk.length === 0) return;
    if (this.writer) return this.writer.write(chunk);
    this.bufferedBytes += chunk.length;
    if (this.bufferedBytes > this.maxBufferedBytes) this.tooLarge = true;
    else this.buffered.push(chunk);
  }

  private outcome(): InvocationOutcome {
    const { errorType, errorBody } = this.response.errorTrailers();
    if (errorType) {
      const payload = errorBody ? Buffer.from(errorBody, 'base64') : errorDocument(errorType, '');
      return { kind: 'function-error', errorType, payload };
    }
    if (this.writer?.opened) return { kind: 'streamed', contentType: this.response.contentType };
    if (this.tooLarge) {
      const message = `Response payload size exceeded maximum allowed payload size (${this.maxBufferedBytes} bytes).`;
      return { kind: 'function-error', errorType: TOO_LARGE, payload: errorDocument(TOO_LARGE, message) };
    }
    return { kind: 'success', payload: Buffer.concat(this.buffered), contentType: this.response.contentType };
  }
}
