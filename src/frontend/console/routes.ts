import { StratusError } from '../../shared/errors.js';
import { CONSOLE_SESSION_COOKIE, errorResponse, header, type ApiRequest, type ApiResponse, type KeyLookup, type Route } from '../http/index.js';
import { SESSION_TTL_MS, type ConsoleSession, type ConsoleSessions } from './sessions.js';
import { loadConsoleFiles } from './static-files.js';

export const CONSOLE_PATH = '/_stratus/console';
/** The header every state-changing console request carries (a cross-origin page cannot send it without a CORS grant, never given). */
export const CSRF_HEADER = 'x-stratus-console';

/** A console API handler: runs for a signed-in session only. */
export interface ConsoleEndpoint {
  method: 'GET' | 'POST';
  /** The path under `/_stratus/console/api/` (may hold capture groups). */
  path: string;
  body?: number;
  handle(req: ApiRequest, session: ConsoleSession): Promise<ApiResponse> | ApiResponse;
}

/**
 * No script but the console's own files, no inline script or style, no framing, nothing sent
 * anywhere but this origin.
 */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    + "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/**
 * The console's routes on the Lambda API's port, outside SigV4: the page, sign-in and sign-out,
 * and `endpoints` behind the session cookie. Every reply carries the security headers; every
 * POST must come from the console's own origin (CSRF).
 */
export function consoleRoutes(deps: { sessions: ConsoleSessions; keys: KeyLookup; endpoints: ConsoleEndpoint[] }): Route[] {
  const files = loadConsoleFiles();
  const page = (name: string): ApiResponse => {
    const file = files.get(name);
    if (!file) throw new StratusError('ResourceNotFound', 'No such console page');
    return { status: 200, body: file.body, headers: { 'content-type': file.contentType, 'cache-control': 'no-cache' } };
  };
  const session = (req: ApiRequest) => deps.sessions.verify(deps.keys, cookie(req, CONSOLE_SESSION_COOKIE));
  const routes: Route[] = [
    route('GET', '', () => ({ status: 302, headers: { location: `${CONSOLE_PATH}/` } })),
    route('GET', '/', () => page('index.html')),
    route('GET', '/((?:vendor/)?[A-Za-z0-9.-]+)', (req) => page(req.params[0] ?? '')),
    route('POST', '/api/login', (req) => {
      sameOrigin(req);
      const { accessKeyId, secretAccessKey } = credentialsIn(req.body);
      const signedIn = deps.sessions.signIn(deps.keys, accessKeyId, secretAccessKey);
      if (!signedIn) return { status: 401, body: { message: 'The access key id or secret is not valid.' } };
      return { status: 200, body: describe(signedIn.session), headers: { 'set-cookie': sessionCookie(req, signedIn.token, SESSION_TTL_MS / 1000) } };
    }, 4096),
    route('POST', '/api/logout', (req) => {
      sameOrigin(req);
      return { status: 204, headers: { 'set-cookie': sessionCookie(req, '', 0) } };
    }, 1024),
    route('GET', '/api/session', (req) => {
      const current = session(req);
      return current ? { status: 200, body: describe(current) } : unauthenticated();
    }),
    ...deps.endpoints.map((endpoint) => route(endpoint.method, `/api/${endpoint.path}`, (req) => {
      if (endpoint.method !== 'GET') sameOrigin(req);
      const current = session(req);
      return current ? endpoint.handle(req, current) : unauthenticated();
    }, endpoint.body)),
  ];
  return routes;
}

function route(method: string, path: string, handle: (req: ApiRequest) => Promise<ApiResponse> | ApiResponse, body = 0): Route {
  return {
    method, pattern: new RegExp(`^${CONSOLE_PATH}${path}$`), body, sigv4: false,
    handle: async (req) => {
      let out: ApiResponse;
      try {
        out = await handle(req);
      } catch (err) {
        out = errorResponse(err);
      }
      const api = path.startsWith('/api/');
      return { ...out, headers: { ...out.headers, ...SECURITY_HEADERS, ...(api ? { 'cache-control': 'no-store' } : {}) } };
    },
  };
}

function describe(session: ConsoleSession) {
  return { accountId: session.accountId, accessKeyId: session.accessKeyId, expiresMs: session.expiresMs };
}

function unauthenticated(): ApiResponse {
  return { status: 401, body: { message: 'Sign in to the console first.' } };
}

/**
 * A state-changing request must be the console's own: it carries the console's header, and the
 * browser says it comes from this origin (Origin, and Sec-Fetch-Site where the browser sends it).
 */
function sameOrigin(req: ApiRequest): void {
  const site = header(req.headers, 'sec-fetch-site');
  if (header(req.headers, CSRF_HEADER) !== '1' || header(req.headers, 'origin') !== req.origin || (site !== undefined && site !== 'same-origin')) {
    throw new StratusError('Forbidden', 'The console accepts this request only from its own page.');
  }
}

function credentialsIn(body: Buffer): { accessKeyId: string; secretAccessKey: string } {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new StratusError('InvalidRequestContent', 'The sign-in request is not JSON.');
  }
  const { accessKeyId, secretAccessKey } = (value ?? {}) as Record<string, unknown>;
  if (typeof accessKeyId !== 'string' || typeof secretAccessKey !== 'string') {
    throw new StratusError('Validation', 'Sign in with an accessKeyId and a secretAccessKey.');
  }
  return { accessKeyId, secretAccessKey };
}

function sessionCookie(req: ApiRequest, token: string, maxAgeSec: number): string {
  const secure = req.origin.startsWith('https:') ? '; Secure' : '';
  return `${CONSOLE_SESSION_COOKIE}=${token}; Path=${CONSOLE_PATH}/; Max-Age=${maxAgeSec}; HttpOnly; SameSite=Strict${secure}`;
}

function cookie(req: ApiRequest, name: string): string | undefined {
  const raw = header(req.headers, 'cookie');
  for (const part of raw?.split(';') ?? []) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
