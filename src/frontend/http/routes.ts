import type { HttpRequest, HttpResponse, HttpRoute } from '../../shared/http-server.js';

/** What a route handler sees: the HTTP core has already read, sized and authenticated it. */
export type ApiRequest = HttpRequest;
export type ApiResponse = HttpResponse;

export interface Route extends HttpRoute {
  /** Signed Lambda API request (true) or a link carrying its own token (false). */
  sigv4: boolean;
}

export { headerValue as header } from '../../shared/http.js';
