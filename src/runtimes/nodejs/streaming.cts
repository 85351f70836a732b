/**
 * Response streaming, as Lambda's Node.js runtime offers it:
 *   export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
 *     responseStream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 200 }); // URLs
 *     responseStream.write('chunk'); ...; responseStream.end();
 *   });
 * The response stream is a Writable over one chunked POST .../response (streaming mode); a
 * failure after it started is reported in the request's trailers.
 */
import { snapStartApi } from './snapstart.cjs';
import type * as http from 'node:http';
import { Writable } from 'node:stream';
import { toRapidResponse } from './errors.cjs';
import { ERROR_BODY_TRAILER, ERROR_TYPE_HEADER, headerSafe, type RapidClient } from './rapid-client.cjs';

const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const STREAM_RESPONSE = 'response';
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
/** The content type of a stream that starts with an HTTP prelude (status, headers, cookies). */
export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const PRELUDE_DELIMITER = new Uint8Array(8);

type Write = (chunk: string | Uint8Array) => void;

/** The `responseStream` a streaming handler gets. */
export class ResponseStream extends Writable {
  /** Set by HttpResponseStream.from: writes the prelude before the first byte of the body. */
  _onBeforeFirstWrite: ((write: Write) => void) | undefined;
  private contentType = DEFAULT_CONTENT_TYPE;
  private request: http.ClientRequest | undefined;
  private answered: Promise<void> = Promise.resolve();
  private failed = false;

  constructor(private readonly client: RapidClient, private readonly invocationId: string) {
    super();
  }

  setContentType(contentType: string): void {
    if (this.request) throw new Error('Cannot set content-type, too late.');
    this.contentType = contentType;
  }

  /** Settles once the Runtime API has answered the response (or the request failed). */
  settled(): Promise<void> {
    return this.answered;
  }

  /** Ends the response with an error in the trailers; too late once the response has ended. */
  fail(error: unknown): Promise<void> {
    if (this.failed || this.request?.writableEnded) return this.answered;
    this.failed = true;
    const request = this.open();
    const body = toRapidResponse(error);
    request.addTrailers({
      [ERROR_TYPE_HEADER]: headerSafe(body.errorType),
      [ERROR_BODY_TRAILER]: Buffer.from(JSON.stringify(body)).toString('base64'),
    });
    request.end();
    return this.answered;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.failed) return callback();
    this.open().write(chunk, () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.failed) return callback();
    this.open().end();
    void this.answered.then(() => callback());
  }

  private open(): http.ClientRequest {
    if (this.request) return this.request;
    const { request, answered } = this.client.streamInvocationResponse(this.invocationId, this.contentType);
    this.request = request;
    this.answered = answered;
    this._onBeforeFirstWrite?.((chunk) => request.write(chunk));
    return request;
  }
}

/** awslambda.HttpResponseStream: a JSON prelude and 8 NUL bytes before the body (function URLs). */
export const HttpResponseStream = {
  from(stream: ResponseStream, prelude: Record<string, unknown>): ResponseStream {
    stream.setContentType(HTTP_INTEGRATION_CONTENT_TYPE);
    const json = JSON.stringify(prelude);
    stream._onBeforeFirstWrite = (write) => {
      write(json);
      write(PRELUDE_DELIMITER);
    };
    return stream;
  },
};

/** Installs the `awslambda` global that handler modules use at load time (unless opted out). */
export function installAwsLambdaGlobal(env: NodeJS.ProcessEnv = process.env): void {
  const optOut = env['AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA'];
  if (optOut === '1' || optOut === 'true') return;
  (globalThis as Record<string, unknown>)['awslambda'] = {
    streamifyResponse<T extends object>(handler: T): T {
      (handler as Record<symbol, unknown>)[HANDLER_STREAMING] = STREAM_RESPONSE;
      return handler;
    },
    HttpResponseStream,
    ...snapStartApi,
  };
}

export function isStreamingHandler(handler: object): boolean {
  return (handler as Record<symbol, unknown>)[HANDLER_STREAMING] === STREAM_RESPONSE;
}
