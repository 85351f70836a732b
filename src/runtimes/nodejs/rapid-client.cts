/**
 * HTTP/1.1 client for the Lambda Runtime API (2018-06-01).
 * GET next and POST response go over one lean keep-alive connection (raw-http.cts); the rare
 * calls (errors, init errors, streamed responses) use node:http with a keep-alive agent. Idle
 * sockets are unref'd on both, so an idle connection never keeps the event loop alive (the
 * callbackWaitsForEmptyEventLoop logic depends on that).
 */
import type * as http from 'node:http';
import * as net from 'node:net';
import { toRapidResponse } from './errors.cjs';
import { RawHttpConnection } from './raw-http.cjs';

const BASE = '/2018-06-01/runtime';
export const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
export const ERROR_BODY_TRAILER = 'Lambda-Runtime-Function-Error-Body';

export interface Endpoint {
  /** Unix socket path (STRATUS_RUNTIME_API_SOCKET), else TCP host/port. */
  socketPath?: string;
  hostname?: string;
  port?: number;
  /** Host header value; AWS_LAMBDA_RUNTIME_API. */
  host?: string;
}

export interface Invocation {
  body: string;
  headers: http.IncomingHttpHeaders;
}

export type Done = (err?: Error) => void;

/** Endpoint from the environment, or an explanation of what is missing. */
export function endpointFromEnv(env: NodeJS.ProcessEnv): Endpoint | string {
  const api = env['AWS_LAMBDA_RUNTIME_API'] || undefined;
  const socketPath = env['STRATUS_RUNTIME_API_SOCKET'] || undefined;
  if (socketPath) return { socketPath, host: api ?? 'localhost' };
  if (!api) {
    return 'neither STRATUS_RUNTIME_API_SOCKET nor AWS_LAMBDA_RUNTIME_API is set; cannot reach the Runtime API';
  }
  const colon = api.lastIndexOf(':');
  const hostname = colon > 0 ? api.slice(0, colon).replace(/^\[(.*)\]$/, '$1') : api;
  const port = colon > 0 ? Number(api.slice(colon + 1)) : 80;
  if (!hostname || !Number.isInteger(port) || port <= 0 || port > 65535) {
    return `AWS_LAMBDA_RUNTIME_API must be host:port, got ${JSON.stringify(api)}`;
  }
  return { hostname, port, host: api };
}

/** JSON.stringify with undefined → null; throws a serializable error otherwise. */
export function serializeResult(result: unknown): string {
  try {
    return JSON.stringify(result === undefined ? null : result) ?? 'null';
  } catch {
    throw new Error('Unable to stringify response body');
  }
}

/** node:http, loaded on first use: the hot path never needs it, and loading it at start-up costs every cold start. */
function httpModule(): typeof http {
  return require('node:http') as typeof http;
}

export class RapidClient {
  private agentOnce: http.Agent | undefined;
  /** The hot path (next, response) on its own lean connection; errors and streams use http. */
  private readonly raw: RawHttpConnection;

  constructor(private readonly endpoint: Endpoint) {
    const { socketPath, hostname, port, host } = endpoint;
    const connect = () => (socketPath ? net.createConnection({ path: socketPath }) : net.createConnection({ host: hostname, port: port ?? 80 }));
    this.raw = new RawHttpConnection(connect, host ?? hostname ?? 'localhost');
  }

  private get agent(): http.Agent {
    return (this.agentOnce ??= new (httpModule().Agent)({ keepAlive: true, maxSockets: 1 }));
  }

  private options(method: string, path: string, headers: http.OutgoingHttpHeaders): http.RequestOptions {
    const { socketPath, hostname, port, host } = this.endpoint;
    const base: http.RequestOptions = socketPath ? { socketPath } : { hostname, port };
    return { ...base, method, path, agent: this.agent, headers: host ? { Host: host, ...headers } : headers };
  }

  /** Long-poll GET .../invocation/next. Rejects on transport errors and non-200 statuses. */
  async nextInvocation(): Promise<Invocation> {
    const res = await this.raw.request('GET', `${BASE}/invocation/next`, {});
    const body = res.body.toString('utf8');
    if (res.status !== 200) throw new Error(`Runtime API GET /invocation/next returned ${res.status}: ${body}`);
    return { body, headers: res.headers };
  }

  /**
   * Stratus's warm pool: a runtime started before its function is known long-polls for the
   * function's environment variables (JSON), then loads the function as usual.
   */
  async specialization(): Promise<Record<string, string>> {
    return JSON.parse((await this.get('/2018-06-01/stratus/specialization')).body) as Record<string, string>;
  }

  /** SnapStart: GET .../restore/next waits across the checkpoint; it returns in each restored clone. */
  async restoreNext(): Promise<void> {
    await this.get(`${BASE}/restore/next`);
  }

  postRestoreError(error: unknown, done: Done): void {
    const response = toRapidResponse(error);
    this.post(`${BASE}/restore/error`, JSON.stringify(response), { [ERROR_TYPE_HEADER]: headerSafe(response.errorType) }, done);
  }

  private get(path: string): Promise<Invocation> {
    return new Promise((resolve, reject) => {
      const req = httpModule().request(this.options('GET', path, {}), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 200) resolve({ body, headers: res.headers });
          else reject(new Error(`Runtime API GET ${path} returned ${res.statusCode}: ${body}`));
        });
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** POST .../invocation/{id}/response with an already serialized body, once the output before it is written. */
  postInvocationResponse(id: string, body: string, done: Done): void {
    afterOutput(() => this.raw.request('POST', `${BASE}/invocation/${encodeURIComponent(id)}/response`, { 'Content-Type': 'application/json' }, body).then(
      () => done(),
      (err: Error) => done(err),
    ));
  }

  /**
   * POST .../invocation/{id}/response in streaming mode: a chunked body written as the handler
   * produces it, errors as the trailers Lambda-Runtime-Function-Error-Type / -Error-Body.
   * `answered` settles once the Runtime API has replied (or the request failed).
   */
  streamInvocationResponse(id: string, contentType: string): { request: http.ClientRequest; answered: Promise<void> } {
    const headers = {
      'Content-Type': contentType,
      'Lambda-Runtime-Function-Response-Mode': 'streaming',
      'Transfer-Encoding': 'chunked',
      Trailer: `${ERROR_TYPE_HEADER}, ${ERROR_BODY_TRAILER}`,
    };
    let request!: http.ClientRequest;
    const answered = new Promise<void>((resolve) => {
      request = httpModule().request(this.options('POST', `${BASE}/invocation/${encodeURIComponent(id)}/response`, headers), (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve());
        res.on('error', () => resolve());
      });
      request.on('error', () => resolve());
    });
    return { request, answered };
  }

  postInvocationError(error: unknown, id: string, done: Done): void {
    this.postError(`${BASE}/invocation/${encodeURIComponent(id)}/error`, error, done);
  }

  postInitError(error: unknown, done: Done): void {
    this.postError(`${BASE}/init/error`, error, done);
  }

  private postError(path: string, error: unknown, done: Done): void {
    const response = toRapidResponse(error);
    afterOutput(() => this.post(path, JSON.stringify(response), { [ERROR_TYPE_HEADER]: headerSafe(response.errorType) }, done));
  }

  /** The Runtime API's status is not acted upon (the official client ignores it too). */
  private post(path: string, body: string, headers: http.OutgoingHttpHeaders, done: Done): void {
    let finished = false;
    const finish = (err?: Error): void => {
      if (finished) return;
      finished = true;
      done(err);
    };
    const allHeaders = {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body, 'utf8'),
      ...headers,
    };
    let req: http.ClientRequest;
    try {
      req = httpModule().request(this.options('POST', path, allHeaders), (res) => {
        res.on('data', () => {});
        res.on('end', () => finish());
        res.on('error', finish);
      });
    } catch (err) {
      finish(err as Error);
      return;
    }
    req.on('error', finish);
    req.end(body, 'utf8');
  }
}

/** Header and trailer values may not carry control or non-Latin-1 characters. */
/**
 * Runs `then` once what the function wrote to stdout and stderr has left the process (at once
 * when nothing waits): a large write to a pipe completes asynchronously, and output that trailed
 * the response would belong to no invocation (Lambda's log tail and REPORT come after it).
 */
function afterOutput(then: () => void): void {
  const waiting = [process.stdout, process.stderr].filter((s) => s.writableLength > 0 && !s.destroyed);
  if (waiting.length === 0) return then();
  let left = waiting.length;
  for (const s of waiting) s.once('drain', () => --left === 0 && then());
}

export function headerSafe(value: string): string {
  return value.replace(/[^\t\x20-\x7e]/g, '');
}
