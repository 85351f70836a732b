import type { HttpRequest, HttpResponse, HttpRoute } from '../../shared/http-server.js';

/** What a route handler sees: the HTTP core has already read, sized and authenticated it. */
export type ApiRequest = HttpRequest;
export type ApiResponse = HttpResponse;

export interface Route extends HttpRoute {
  /** Signed Lambda API request (true) or a link carrying its own token (false). */
  sigv4: boolean;
  /** The service a signature must be scoped to (default `lambda`). */
  service?: string;
  /** The API's wire form (default: Lambda's REST-JSON); AWS JSON 1.1 routes get its errors too. */
  wire?: 'json-1.1';
}

export { headerValue as header } from '../../shared/http.js';
