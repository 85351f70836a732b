import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { fromWireError, StratusError } from './errors.js';

/** What one side of the cluster presents on the internal APIs, and whom it trusts. */
export interface InternalCredential {
  /** The `Authorization` header sent with every request. */
  authorization: string;
  /** The cluster CA (PEM): servers are reached over HTTPS and must present a certificate it issued for the name asked for. */
  ca: string;
}

/** A whole reply. */
export interface InternalReply {
  status: number;
  body: Buffer;
}

/**
 * A client of Stratus's internal APIs (worker, assignment, cluster): it presents its credential
 * on every request and, with TLS, verifies that the server's certificate was issued by the
 * cluster CA for `serverName` (a role's name, not the address: see `shared/tls.ts`). Connections
 * are kept alive in its own pool.
 */
export class InternalClient {
  private readonly agent: HttpsAgent;

  constructor(readonly credential: InternalCredential, opts: { maxSockets?: number } = {}) {
    this.agent = new HttpsAgent({ keepAlive: true, maxSockets: opts.maxSockets ?? 256, ca: credential.ca, minVersion: 'TLSv1.2' });
  }

  /**
   * Starts a request to `url` (https: only) with the credential; `pooled: false` gives it a
   * connection of its own (a long-lived stream).
   */
  request(url: string, serverName: string, options: RequestOptions & { pooled?: boolean }, callback: (res: IncomingMessage) => void): ClientRequest {
    const { pooled = true, headers, ...rest } = options;
    const target = new URL(url);
    if (target.protocol !== 'https:') throw new StratusError('InvalidConfig', `${url}: the cluster's internal APIs are reached over https`);
    const common = { ...rest, headers: { ...headers, authorization: this.credential.authorization } };
    const tls = { servername: serverName, ca: this.credential.ca, minVersion: 'TLSv1.2' as const };
    return httpsRequest(target, { ...common, ...tls, agent: pooled ? this.agent : false }, callback);
  }

  /** One whole request and reply; rejects only if no reply came (connection, TLS or time-out). */
  exchange(url: string, serverName: string, opts: { method: string; body?: Buffer | string; headers?: Record<string, string>; timeoutMs?: number }): Promise<InternalReply> {
    return new Promise((resolve, reject) => {
      let req: ClientRequest;
      try {
        req = this.request(url, serverName, { method: opts.method, headers: opts.headers, timeout: opts.timeoutMs }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => resolve({ status: res.statusCode ?? 500, body: Buffer.concat(chunks) }));
        });
      } catch (err) {
        return reject(err);
      }
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${opts.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(opts.body);
    });
  }

  /** POSTs JSON (or GETs without a body) and parses the JSON reply; an error reply becomes the StratusError it carries. */
  async json(url: string, serverName: string, method: string, body?: unknown, timeoutMs?: number): Promise<unknown> {
    const reply = await this.exchange(url, serverName, {
      method, timeoutMs, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const parsed = parseJson(reply.body);
    if (reply.status < 300) return parsed;
    throw fromWireError(parsed, `${url} answered HTTP ${reply.status}`);
  }

  close(): void {
    this.agent.destroy();
  }
}

export function parseJson(body: Buffer): unknown {
  try {
    return body.length === 0 ? undefined : (JSON.parse(body.toString('utf8')) as unknown);
  } catch {
    return undefined;
  }
}
