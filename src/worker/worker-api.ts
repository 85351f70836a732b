import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { StratusError } from '../shared/errors.js';
import { controlPlaneOnly, refusalResponse, type Authenticate } from '../shared/cluster-api.js';
import { HttpServer, routesUnder, wireErrorResponse, type HttpRequest, type HttpResponse, type HttpRoute } from '../shared/http-server.js';
import type { Logger } from '../shared/log.js';
import type { TlsIdentity } from '../shared/tls.js';
import type { WorkerAgent } from './agent.js';
import type { InvocationResult } from './invocation.js';
import { PEER_CHUNKS } from './peer-chunks.js';
import { StreamRelay } from './stream-relay.js';
import { epochFrom, parseCreateEnvironment, parseSnapshotRequest, SNAPSHOT_SHA256_HEADER, invocationFrom, outcomePayload, resultHeaders, streamHeaders, streamTrailers, wantsStream, WORKER_API } from './wire.js';
import { traceparentFrom } from '../shared/tracing.js';

const ENV = '/environments/([0-9a-f-]{36})';
const MAX_BODY = 8 * 1024 * 1024;

/** What the worker API serves its zone peers: the chunks this worker holds, to the peers placement listed. */
export interface PeerChunkServing {
  /** The zone peer an Authorization header stands for (undefined: none). */
  admit(authorization: string | undefined): string | undefined;
  /** A chunk held here for the account (undefined: not held). */
  held(accountId: string, sha256: string): Promise<Buffer | undefined>;
}

/**
 * A worker agent served over HTTP to the control plane (`stratus worker`). It only translates
 * requests into WorkerAgent calls (a call's fencing epoch comes from its x-stratus-epoch header;
 * the agent it serves, a FencedWorkerAgent, enforces it). Only the control plane may call it (the
 * key derived for this worker, checked against the hash this worker was given); it is served over
 * TLS with this worker's own certificate. Errors go back in their
 * wire form, code and details intact. One route is for the worker's zone peers instead
 * (`peer/chunks`, with `peers`): the image chunks it holds, to peers with their own key only.
 */
export class WorkerApiServer {
  private readonly server: HttpServer;
  private readonly eventStreams = new Set<PassThrough>();

  constructor(agent: WorkerAgent, authenticate: Authenticate, log: Logger, tls: TlsIdentity, peers?: PeerChunkServing) {
    const controlPlane = controlPlaneOnly(authenticate, 'worker');
    const peerRoute = peers && peerChunkRoute(peers);
    this.server = new HttpServer({
      routes: peerRoute ? [...this.routes(agent), peerRoute] : this.routes(agent),
      log,
      tls,
      authenticateHead: (route, req) => {
        if (route !== peerRoute) return controlPlane(route, req);
        return peers?.admit(req.headers.authorization) === undefined ? refusalResponse({ refused: 401, message: 'not a worker of this zone' }) : undefined;
      },
      requestTimeoutMs: 0,
      notFound: (method, path) => wireErrorResponse(new StratusError('ResourceNotFound', `No worker API at ${method} ${path}`)),
      errorReply: (err) => wireErrorResponse(err),
    });
    agent.onEnvironmentLost((envId) => {
      for (const stream of this.eventStreams) stream.write(`${JSON.stringify({ type: 'lost', envId })}\n`);
    });
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return this.server.listen(host, port);
  }

  /** Always 'https'. */
  get scheme(): 'http' | 'https' {
    return this.server.scheme;
  }

  async close(): Promise<void> {
    for (const stream of this.eventStreams) stream.end();
    this.eventStreams.clear();
    await this.server.close();
  }

  private routes(agent: WorkerAgent): HttpRoute[] {
    const route = routesUnder(WORKER_API, MAX_BODY);
    return [
      // The warm path first.
      route('POST', `${ENV}/invocations`, (req) => invoke(agent, req.params[0] ?? '', req)),
      route('GET', '/status', () => ({ status: 200, body: agent.status() })),
      route('GET', '/events', () => this.events()),
      route('POST', '/fence', async (req) => ({ status: 200, body: { environments: await agent.environments(epochFrom(req.headers)) } })),
      route('POST', '/environments', async (req) => {
        const { envId, spec, opts } = parseCreateEnvironment(req.body);
        const trace = traceparentFrom(req.headers);
        await agent.createEnvironment(envId, spec, { ...opts, epoch: epochFrom(req.headers), ...(trace === undefined ? {} : { trace }) });
        return { status: 201, body: { envId } };
      }),
      // SnapStart on publish: the checkpoint is made here and answered as one tar (the control plane stores it chunked).
      route('POST', '/snapshots', async (req) => {
        const spec = parseSnapshotRequest(req.body);
        if (!agent.createSnapshot) throw new StratusError('SnapshotFailed', 'This worker cannot checkpoint sandboxes', { details: { kind: 'platform' } });
        // The control plane's deadline (or its stop) closes the request: the boot or dump here stops with it.
        const gone = new AbortController();
        const socket = req.stream.socket;
        const abandon = () => gone.abort(new StratusError('SnapshotFailed', 'The control plane gave up on the snapshot', { details: { kind: 'platform' } }));
        if (socket.destroyed) abandon();
        socket.once('close', abandon);
        const { tar, sha256 } = await agent.createSnapshot(spec, { signal: gone.signal }).finally(() => socket.off('close', abandon));
        return { status: 200, headers: { 'content-type': 'application/x-tar', [SNAPSHOT_SHA256_HEADER]: sha256 }, body: tar };
      }),
      route('DELETE', ENV, async (req) => {
        await agent.destroyEnvironment(req.params[0] ?? '', epochFrom(req.headers));
        return { status: 204 };
      }),
    ];
  }

  /** A long-lived stream of newline-delimited events (environments lost on this worker). */
  private events(): HttpResponse {
    const stream = new PassThrough();
    stream.write(`${JSON.stringify({ type: 'hello' })}\n`);
    this.eventStreams.add(stream);
    const cancel = () => {
      this.eventStreams.delete(stream);
      stream.destroy();
    };
    return { status: 200, headers: { 'content-type': 'application/x-ndjson' }, body: { chunks: stream, cancel } };
  }
}

/** `GET peer/chunks/<accountId>/<sha256>`: a chunk this worker holds (404 otherwise: a peer's miss is never fetched for it). */
function peerChunkRoute(peers: PeerChunkServing): HttpRoute {
  return routesUnder(WORKER_API, 0)('GET', `${PEER_CHUNKS}/(\\d{12})/([0-9a-f]{64})`, async (req) => {
    const bytes = await peers.held(req.params[0] ?? '', req.params[1] ?? '');
    if (!bytes) throw new StratusError('ResourceNotFound', 'this worker does not hold that chunk');
    return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: bytes };
  });
}

/**
 * Runs an invocation. A caller that takes a streamed response as it comes gets it so: the reply
 * begins when the function's first bytes do, carries them as they are written, and ends with
 * the result in its trailers. Otherwise (or if the function did not stream) the result is the reply.
 */
async function invoke(agent: WorkerAgent, envId: string, req: HttpRequest): Promise<HttpResponse> {
  const invocation = invocationFrom(req.headers, req.body);
  if (!wantsStream(req.headers)) return buffered(await agent.invoke(envId, invocation));
  const relay = new StreamRelay();
  let ended: { result: InvocationResult } | { error: unknown } | undefined;
  const running = agent.invoke(envId, { ...invocation, responseSink: relay });
  void running.then((result) => (ended = { result }), (error: unknown) => (ended = { error })).finally(() => relay.end());
  await Promise.race([relay.opened, running]);
  const contentType = relay.contentType;
  if (contentType === undefined) return buffered(await running);
  return {
    status: 200,
    headers: streamHeaders(contentType),
    body: { chunks: relay.chunks, cancel: () => relay.cancel(), trailers: () => streamTrailers(ended ?? { error: new StratusError('Internal', 'the invocation had not ended') }) },
  };
}

function buffered(result: InvocationResult): HttpResponse {
  return { status: 200, headers: { 'content-type': 'application/octet-stream', ...resultHeaders(result) }, body: outcomePayload(result) };
}
