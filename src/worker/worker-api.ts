import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bearerMatches } from '../shared/bearer.js';
import { isStratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { WorkerAgent } from './agent.js';
import { EPOCH_HEADER, invocationFrom, outcomePayload, parseCreateEnvironment, resultHeaders, WORKER_API } from './wire.js';
import { closeNow, headerValue, listenOn, readBody, replyJson } from '../shared/http.js';

const ENV = new RegExp(`^${WORKER_API}/environments/([0-9a-f-]{36})(/invocations)?$`);
const MAX_BODY = 8 * 1024 * 1024;

/**
 * A worker agent served over HTTP to the control plane (`stratus worker`). It only translates
 * requests into WorkerAgent calls. Every request carries the cluster's bearer token.
 */
export class WorkerApiServer {
  private readonly server: Server;
  private readonly eventStreams = new Set<ServerResponse>();
  /**
   * The highest assignment epoch seen. Requests that carry an older one come from a deposed
   * leader (or for an environment it granted) and are refused: two leaderships never both use
   * an environment.
   */
  private epoch = 0;

  constructor(private readonly agent: WorkerAgent, private readonly token: string, private readonly log: Logger) {
    this.server = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => void this.route(req, res));
    agent.onEnvironmentLost((envId) => {
      for (const stream of this.eventStreams) stream.write(`${JSON.stringify({ type: 'lost', envId })}\n`);
    });
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return listenOn(this.server, host, port);
  }

  async close(): Promise<void> {
    for (const stream of this.eventStreams) stream.end();
    await closeNow(this.server);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.authorized(req)) return void replyJson(res, 401, { code: 'Unauthorized', message: 'bad worker token' });
    const url = req.url ?? '';
    const epoch = headerValue(req.headers, EPOCH_HEADER);
    // Checked when the request starts, and again once its body is read, right before it acts (no
    // await in between): a fence that came meanwhile has listed the environments without it.
    const fenced = () => epoch !== undefined && !this.admit(Number(epoch));
    const refuse = () => void replyJson(res, 409, { code: 'Fenced', message: `a newer assignment leadership (epoch ${this.epoch}) has taken over this worker` });
    if (fenced()) return refuse();
    try {
      if (req.method === 'GET' && url === `${WORKER_API}/status`) return void replyJson(res, 200, this.agent.status());
      if (req.method === 'GET' && url === `${WORKER_API}/events`) return this.events(res);
      if (req.method === 'POST' && url === `${WORKER_API}/fence`) {
        const { epoch } = JSON.parse((await body(req)).toString()) as { epoch: number };
        this.admit(epoch);
        return void replyJson(res, 200, { epoch: this.epoch, environments: await this.agent.environments() });
      }
      if (req.method === 'POST' && url === `${WORKER_API}/environments`) {
        const { envId, spec, opts } = parseCreateEnvironment(await body(req));
        if (fenced()) return refuse();
        await this.agent.createEnvironment(envId, spec, opts);
        return void replyJson(res, 201, { envId });
      }
      const match = ENV.exec(url);
      if (match?.[1] && req.method === 'POST' && match[2]) {
        const invocation = invocationFrom(req.headers, await body(req));
        if (fenced()) return refuse();
        const result = await this.agent.invoke(match[1], invocation);
        res.writeHead(200, { 'content-type': 'application/octet-stream', ...resultHeaders(result) }).end(outcomePayload(result));
        return;
      }
      if (match?.[1] && req.method === 'DELETE' && !match[2]) {
        await this.agent.destroyEnvironment(match[1]);
        return void replyJson(res, 204);
      }
      replyJson(res, 404, { code: 'NotFound', message: `${req.method} ${url}` });
    } catch (err) {
      this.log.warn({ err, url }, 'worker API request failed');
      const code = isStratusError(err) ? err.code : 'Internal';
      replyJson(res, code === 'InvalidRequestContent' ? 400 : 500, { code, message: err instanceof Error ? err.message : String(err) });
    }
  }

  /** A long-lived stream of newline-delimited events (environments lost on this worker). */
  private events(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(`${JSON.stringify({ type: 'hello' })}\n`);
    this.eventStreams.add(res);
    res.on('close', () => this.eventStreams.delete(res));
  }

  /** Raises the epoch to `epoch`, or says no if it is older than one already seen. */
  private admit(epoch: number): boolean {
    if (epoch < this.epoch) return false;
    this.epoch = epoch;
    return true;
  }

  private authorized(req: IncomingMessage): boolean {
    return bearerMatches(req.headers.authorization, this.token);
  }
}

/** A request body up to MAX_BODY bytes. */
async function body(req: IncomingMessage): Promise<Buffer> {
  const data = await readBody(req, MAX_BODY);
  if (!data) throw new Error('body too large');
  return data;
}

