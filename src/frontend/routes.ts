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
}

export interface ApiResponse {
  status: number;
  /** JSON-serialised unless it is a Buffer. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Route {
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

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
