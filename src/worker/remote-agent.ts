import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { fromWireError, StratusError } from '../shared/errors.js';
import type { InternalClient } from '../shared/internal-client.js';
import type { Logger } from '../shared/log.js';
import { workerServerName } from '../shared/tls.js';
import type { EnvironmentSpec } from './environment-spec.js';
import type { EnvironmentOptions, EnvironmentReport, WorkerAgent, WorkerStatus } from './agent.js';
import type { Invocation, InvocationResult, ResponseSink } from './invocation.js';
import { SinkWriter } from './sink-writer.js';
import { EPOCH_HEADER, invocationHeaders, SNAPSHOT_SHA256_HEADER, parseJson, resultFrom, resultFromTrailers, streamedContentType, WORKER_API } from './wire.js';
import { TRACEPARENT_HEADER } from '../shared/tracing.js';

/**
 * Room for a streamed reply's trailers: the result, a function error's document (base64; the
 * runtime's own error trailer is at most 16 KiB) and the 4 KB log tail (base64).
 */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * The control plane's handle on a worker agent in another process (`stratus worker`), over
 * the worker API. Its status is what the worker last reported with its heartbeat. Errors the
 * worker answers come back as the StratusError it threw; a worker that cannot be reached (or
 * breaks off a reply, or whose certificate is not its own) is WorkerUnavailable. With TLS the
 * worker must present a certificate of the cluster CA for its own id.
 */
export class RemoteWorkerAgent implements WorkerAgent {
  private readonly lostListeners: ((envId: string) => void)[] = [];
  private events: IncomingMessage | undefined;
  private closed = false;

  constructor(
    readonly id: string,
    private readonly baseUrl: string,
    /** This handle's own connection pool, with the control plane's credential. */
    private readonly client: InternalClient,
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
    const { epoch, trace, ...rest } = opts;
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(trace === undefined ? {} : { [TRACEPARENT_HEADER]: trace }) };
    await this.call('POST', '/environments', epoch, Buffer.from(JSON.stringify({ envId, spec, opts: rest })), headers);
  }

  /** A streamed response is passed on chunk by chunk as the worker relays it; its result follows. */
  async invoke(envId: string, invocation: Invocation): Promise<InvocationResult> {
    const res = await this.send('POST', `/environments/${envId}/invocations`, invocation.epoch, invocation.payload, invocationHeaders(invocation));
    const contentType = streamedContentType(res.headers);
    if (contentType !== undefined && invocation.responseSink) return this.relay(res, invocation.responseSink, contentType);
    return resultFrom(res.headers, await this.body(res));
  }

  /**
   * SnapStart on publish, made on that worker: its tar comes back whole, checked against the digest
   * the worker names. `signal` ends the request (a worker whose host vanished never answers).
   */
  async createSnapshot(spec: EnvironmentSpec, opts: { signal?: AbortSignal } = {}): Promise<{ tar: Buffer; sha256: string }> {
    const { signal } = opts;
    signal?.throwIfAborted();
    const res = await this.send('POST', '/snapshots', undefined, Buffer.from(JSON.stringify(spec)), { 'content-type': 'application/json' }, signal);
    const tar = await this.body(res, signal);
    const sha256 = createHash('sha256').update(tar).digest('hex');
    if (res.headers[SNAPSHOT_SHA256_HEADER] !== sha256) throw new StratusError('SnapshotFailed', `The snapshot from worker ${this.id} arrived damaged`, { details: { kind: 'platform' } });
    return { tar, sha256 };
  }

  async destroyEnvironment(envId: string, epoch?: number): Promise<void> {
    await this.call('DELETE', `/environments/${envId}`, epoch);
  }

  async environments(epoch?: number): Promise<EnvironmentReport[]> {
    const body = await this.call('POST', '/fence', epoch);
    return (JSON.parse(body.toString()) as { environments: EnvironmentReport[] }).environments;
  }

  onEnvironmentLost(listener: (envId: string) => void): void {
    this.lostListeners.push(listener);
    if (!this.events) this.follow();
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    this.events?.destroy();
    this.client.close();
  }

  /** Follows the worker's event stream, reconnecting until shut down. */
  private follow(): void {
    if (this.closed) return;
    const url = `${this.baseUrl}${WORKER_API}/events`;
    let req: ReturnType<InternalClient['request']>;
    try {
      req = this.client.request(url, this.serverName(), { headers: this.headers(undefined), pooled: false }, (res) => this.onEvents(res));
    } catch (err) {
      return void this.unavailable(err instanceof Error ? err : new Error(String(err)));
    }
    req.on('error', () => setTimeout(() => this.follow(), 1000).unref());
    req.end();
  }

  private onEvents(res: IncomingMessage): void {
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
  }

  private headers(epoch: number | undefined): Record<string, string> {
    const headers: Record<string, string> = {};
    if (epoch !== undefined) headers[EPOCH_HEADER] = String(epoch);
    return headers;
  }

  /** A call whose whole answer is wanted. */
  private async call(method: string, path: string, epoch: number | undefined, body?: Buffer, headers: Record<string, string> = {}): Promise<Buffer> {
    return this.body(await this.send(method, path, epoch, body, headers));
  }

  /** Sends a request; resolves with a successful reply as soon as its head arrives, rejects with the error the worker answered. */
  private send(method: string, path: string, epoch: number | undefined, body?: Buffer, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const url = `${this.baseUrl}${WORKER_API}${path}`;
      const req = this.client.request(url, this.serverName(), { method, maxHeaderSize: MAX_HEADER_BYTES, headers: { ...this.headers(epoch), ...headers } }, (res) => {
        if ((res.statusCode ?? 500) < 300) return resolve(res);
        this.body(res).then(
          (data) => reject(fromWireError(parseJson(data), `worker ${this.id} answered HTTP ${res.statusCode}`, 'WorkerUnavailable')),
          reject,
        );
      });
      req.on('error', (err) => reject(signal?.aborted ? signal.reason : this.unavailable(err)));
      whenAborted(signal, req, reject);
      req.end(body);
    });
  }

  /** The name this worker's certificate must carry. */
  private serverName(): string {
    return workerServerName(this.id);
  }

  private body(res: IncomingMessage, signal?: AbortSignal): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      whenAborted(signal, res, reject);
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      this.onBroken(res, reject);
      res.on('end', () => resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks)));
    });
  }

  /** Writes a streamed reply into `sink` as it arrives (pausing the worker while the sink is full), then reads the result from its trailers. */
  private relay(res: IncomingMessage, sink: ResponseSink, contentType: string): Promise<InvocationResult> {
    return new Promise((resolve, reject) => {
      const writer = new SinkWriter(sink, contentType, res);
      res.on('data', (chunk: Buffer) => writer.write(chunk));
      this.onBroken(res, reject);
      res.on('end', () => {
        void writer.settled().then(() => {
          try {
            resolve(resultFromTrailers(res.trailers, this.id));
          } catch (err) {
            reject(err);
          }
        });
      });
    });
  }

  /** A reply cut off before its end (the worker died, the connection broke). */
  private onBroken(res: IncomingMessage, reject: (err: StratusError) => void): void {
    res.on('error', (err) => reject(this.unavailable(err)));
    res.on('close', () => res.complete || reject(this.unavailable(new Error('the reply was cut off'))));
  }

  private unavailable(cause: Error): StratusError {
    this.log.warn({ worker: this.id, err: cause }, 'worker unreachable');
    return new StratusError('WorkerUnavailable', `worker ${this.id} is unreachable: ${cause.message}`, { cause });
  }
}

/** Once `signal` aborts: rejects with its reason and destroys `stream` (the request or its reply). */
function whenAborted(signal: AbortSignal | undefined, stream: { destroy(): void; once(event: 'close', listener: () => void): unknown }, reject: (reason: unknown) => void): void {
  if (!signal) return;
  const abort = () => {
    reject(signal.reason);
    stream.destroy();
  };
  if (signal.aborted) return abort();
  signal.addEventListener('abort', abort, { once: true });
  stream.once('close', () => signal.removeEventListener('abort', abort));
}
