import { Agent, request, type IncomingMessage } from 'node:http';
import { StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { EnvironmentSpec } from './environment-spec.js';
import type { EnvironmentOptions, EnvironmentReport, WorkerAgent, WorkerStatus } from './agent.js';
import type { Invocation, InvocationResult } from './invocation.js';
import { EPOCH_HEADER, invocationHeaders, resultFrom, WORKER_API } from './wire.js';

/**
 * The control plane's handle on a worker agent in another process (`stratus worker`), over
 * the worker API. Its status is what the worker last reported with its heartbeat.
 */
export class RemoteWorkerAgent implements WorkerAgent {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  private readonly lostListeners: ((envId: string) => void)[] = [];
  private events: IncomingMessage | undefined;
  private closed = false;
  /** Sent with environment management calls: the epoch of the leadership this handle acts for. */
  fencingEpoch: number | undefined;

  constructor(
    readonly id: string,
    private readonly baseUrl: string,
    private readonly token: string,
    private lastStatus: WorkerStatus,
    private readonly log: Logger,
  ) {}

  /** The status a heartbeat carried. */
  report(status: WorkerStatus): void {
    this.lastStatus = status;
  }

  status(): WorkerStatus {
    return this.lastStatus;
  }

  async createEnvironment(envId: string, spec: EnvironmentSpec, opts: EnvironmentOptions = {}): Promise<void> {
    await this.call('POST', '/environments', Buffer.from(JSON.stringify({ envId, spec, opts })), { 'content-type': 'application/json' });
  }

  async invoke(envId: string, invocation: Invocation): Promise<InvocationResult> {
    const { res, body } = await this.call('POST', `/environments/${envId}/invocations`, invocation.payload, invocationHeaders(invocation));
    const result = resultFrom(res.headers, body);
    const sink = invocation.responseSink;
    if (sink && result.outcome.kind === 'success' && result.outcome.contentType) {
      // The worker buffered a streamed response: pass it on in one piece.
      sink.open(result.outcome.contentType).write(result.outcome.payload);
      return { ...result, outcome: { kind: 'streamed', contentType: result.outcome.contentType } };
    }
    return result;
  }

  async destroyEnvironment(envId: string): Promise<void> {
    await this.call('DELETE', `/environments/${envId}`);
  }

  async environments(epoch?: number): Promise<EnvironmentReport[]> {
    const { body } = await this.call('POST', '/fence', Buffer.from(JSON.stringify({ epoch: epoch ?? 0 })), { 'content-type': 'application/json' });
    return (JSON.parse(body.toString()) as { environments: EnvironmentReport[] }).environments;
  }

  onEnvironmentLost(listener: (envId: string) => void): void {
    this.lostListeners.push(listener);
    if (!this.events) this.follow();
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    this.events?.destroy();
    this.agent.destroy();
  }

  /** Follows the worker's event stream, reconnecting until shut down. */
  private follow(): void {
    if (this.closed) return;
    const req = request(`${this.baseUrl}${WORKER_API}/events`, { headers: this.auth(), agent: false }, (res) => {
      this.events = res;
      let buffered = '';
      res.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          const event = JSON.parse(line) as { type: string; envId?: string };
          if (event.type === 'lost' && event.envId) for (const l of this.lostListeners) l(event.envId);
        }
      });
      res.on('close', () => setTimeout(() => this.follow(), 1000).unref());
    });
    req.on('error', () => setTimeout(() => this.follow(), 1000).unref());
    req.end();
  }

  private auth(): Record<string, string> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (this.fencingEpoch !== undefined) headers[EPOCH_HEADER] = String(this.fencingEpoch);
    return headers;
  }

  private call(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ res: IncomingMessage; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = request(`${this.baseUrl}${WORKER_API}${path}`, { method, agent: this.agent, headers: { ...this.auth(), ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(this.unavailable(err)));
        res.on('end', () => {
          const data = Buffer.concat(chunks);
          if ((res.statusCode ?? 500) < 300) return resolve({ res, body: data });
          const err = JSON.parse(data.toString() || '{}') as { code?: string; message?: string };
          const code = err.code === 'SandboxCreateFailed' || err.code === 'Fenced' ? err.code : 'WorkerUnavailable';
          reject(new StratusError(code, `worker ${this.id}: ${err.message ?? res.statusCode}`));
        });
      });
      req.on('error', (err) => reject(this.unavailable(err)));
      req.end(body);
    });
  }

  private unavailable(cause: Error): StratusError {
    this.log.warn({ worker: this.id, err: cause }, 'worker unreachable');
    return new StratusError('WorkerUnavailable', `worker ${this.id} is unreachable: ${cause.message}`, { cause });
  }
}
