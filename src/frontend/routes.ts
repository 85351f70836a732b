import type { IncomingHttpHeaders } from 'node:http';

/** What a route handler sees: the HTTP layer has already read, sized and authenticated it. */
export interface ApiRequest {
  method: string;
  params: string[];
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  requestId: string;
  /** Base URL this request reached (for links such as code locations). */
  origin: string;
  /** Path and query exactly as received, still percent-encoded (signature checks). */
  rawUrl: string;
  /** Address of the client's end of the connection. */
  sourceIp: string;
}

export interface ApiResponse {
  status: number;
  /** JSON-serialised unless it is a Buffer or a StreamedBody. */
  body?: unknown;
  headers?: Record<string, string | string[]>;
}

/** A body written as it is produced (chunked); `cancel` is called if the client goes away. */
export interface StreamedBody {
  chunks: AsyncIterable<Buffer>;
  cancel(): void;
}

export function isStreamedBody(body: unknown): body is StreamedBody {
  return typeof body === 'object' && body !== null && 'chunks' in body && 'cancel' in body;
}

export interface Route {
  /** An HTTP method, or '*' for any. */
  method: string;
  pattern: RegExp;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Error to give when the body is larger than maxBodyBytes. */
  tooLargeMessage: string;
  /** Signed Lambda API request (true) or a link carrying its own token (false). */
  sigv4: boolean;
  handle(req: ApiRequest): Promise<ApiResponse> | ApiResponse;
}

export { headerValue as header } from '../shared/http.js';
