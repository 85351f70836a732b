import { CLUSTER_API, refusalResponse, withCaller, type AuthenticateAsync, type Caller } from '../shared/cluster-api.js';
import { isStratusError, StratusError } from '../shared/errors.js';
import { jsonBody, type HttpRequest, type HttpResponse, type HttpRoute } from '../shared/http-server.js';
import type { InternalClient } from '../shared/internal-client.js';
import { CONTROL_PLANE_NAME } from '../shared/tls.js';
import type { Logger } from '../shared/log.js';
import type { WorkerStatus } from '../worker/index.js';
import type { ConnectedWorker, WorkerConnector } from './connector.js';
import type { WorkerDocument } from './membership.js';
import type { PlacementService } from './placement.js';

const WORKERS = `${CLUSTER_API}/workers`;
const CERTIFICATE = `${CLUSTER_API}/workers/certificate`;

/** What a worker is given for its own TLS server: a certificate for its id, and the hash of the one key its API admits. */
export interface WorkerCertificate {
  certificate: string;
  workerApiKeyHash: string;
  /** The key it presents to the workers of its zone (absent: a control plane without peer chunk fetches). */
  peerKey?: string;
}

/** A worker of the same zone, as a heartbeat's answer lists it: where it serves, and the hash of the key it presents. */
export interface ZonePeerEntry {
  id: string;
  url: string;
  keyHash: string;
}

/** What a heartbeat is answered. */
export interface HeartbeatAnswer {
  leaseMs: number;
  /** The other workers of its zone that placement holds now (absent: no peer chunk fetches). */
  peers?: ZonePeerEntry[];
}

export interface WorkerRegistrationDeps {
  /** Who a request comes from: a worker with its own credential. */
  authenticate: AuthenticateAsync;
  /** Issues a worker's server certificate for its own id, from its CSR (a cluster with TLS). */
  certificates?: (workerId: string, csrPem: string) => WorkerCertificate;
  placement: PlacementService;
  connector: WorkerConnector;
  leaseMs: number;
  log: Logger;
  /**
   * Whether a worker's credential was revoked (as this process has seen it). A heartbeat that
   * passed authentication just before the revocation was committed is refused here, so it cannot
   * register the worker again after the revocation dropped it.
   */
  revoked?(workerId: string): boolean;
  /**
   * A replicated placement: whether this replica takes heartbeats now, or else the address of the
   * leader (if known), named in the NotLeader refusal so the worker follows it.
   */
  leading?(): true | { leader?: string };
  /** A worker registered for the first time (or again, after its lease ran out). */
  onWorkerJoined?(agent: ConnectedWorker): void;
  /** Every accepted heartbeat, with what the worker reported (the cluster's worker directory). */
  onHeartbeat?(worker: WorkerDocument): void;
  /** The hash of the key worker `workerId` presents to its zone peers; with it, heartbeats are answered with the zone's peers. */
  peerKeyHash?(workerId: string): string;
}

/**
 * Workers in other processes join placement here: their first heartbeat registers them with a
 * lease, every later one renews it and carries their status. Served on the control plane's
 * internal API (`routes()`); `sendHeartbeat` is the worker's side.
 */
export class WorkerRegistrations {
  /** The remote workers this registration connected, by id (placement holds their leases). */
  private readonly remotes = new Map<string, ConnectedWorker>();
  /** Where each of them serves. */
  private readonly urls = new Map<string, string>();

  constructor(private readonly deps: WorkerRegistrationDeps) {
    deps.placement.onWorkerLost((id) => {
      this.remotes.delete(id);
      this.urls.delete(id);
    });
  }

  /** A worker recorded earlier (by a previous placement process) gets a fresh lease: a gone one runs out. */
  adopt(worker: WorkerDocument): void {
    const agent = this.deps.connector.connect(worker);
    this.remotes.set(worker.id, agent);
    this.urls.set(worker.id, worker.url);
    this.deps.placement.register(agent, { leased: true });
  }

  /** Whether placement holds worker `workerId` through these registrations (not, say, `stratus up`'s own worker). */
  holds(workerId: string): boolean {
    const remote = this.remotes.get(workerId);
    return remote !== undefined && this.deps.placement.worker(workerId) === remote;
  }

  routes(): HttpRoute[] {
    const at = (path: string) => new RegExp(`^${path.replaceAll('/', '\\/')}$`);
    const route = (path: string, handle: (req: HttpRequest, caller: Caller) => HttpResponse) =>
      ({ method: 'POST', pattern: at(path), body: 1024 * 1024, tooLargeMessage: 'too large', handle: withCaller(this.deps.authenticate, handle) });
    return [route(WORKERS, (req, caller) => this.heartbeat(req, caller)), route(CERTIFICATE, (req, caller) => this.certificate(req, caller))];
  }

  /** A worker's certificate for its own id (the id comes from its credential, never from the request). */
  private certificate(req: HttpRequest, caller: Caller): HttpResponse {
    if (caller.kind !== 'worker') return refusalResponse({ refused: 403, message: 'only a worker, with its own credential, is given a certificate' });
    if (!this.deps.certificates) throw new StratusError('ResourceNotFound', 'this control plane issues no certificates');
    const { csr } = jsonBody<{ csr?: unknown }>(req);
    if (typeof csr !== 'string') throw new StratusError('InvalidRequestContent', 'csr must be a PEM certificate signing request');
    this.deps.log.info({ worker: caller.workerId }, 'worker certificate issued');
    return { status: 200, body: this.deps.certificates(caller.workerId, csr) };
  }

  private heartbeat(req: HttpRequest, caller: Caller): HttpResponse {
    const { placement, log } = this.deps;
    const { id, url, status } = jsonBody<WorkerDocument>(req);
    if (caller.kind === 'control-plane' || (caller.kind === 'worker' && caller.workerId !== id)) {
      log.warn({ worker: id, caller }, 'a heartbeat under another worker\'s id was refused');
      return refusalResponse({ refused: 403, message: `this credential cannot register worker ${JSON.stringify(id)}` });
    }
    if (typeof id !== 'string' || typeof url !== 'string' || typeof status !== 'object' || status === null) {
      throw new StratusError('InvalidRequestContent', 'a heartbeat is { id, url, status }');
    }
    if (this.deps.revoked?.(id)) return refusalResponse({ refused: 401, message: 'unknown or revoked worker credential' });
    const leading = this.deps.leading?.() ?? true;
    if (leading !== true) {
      throw new StratusError('NotLeader', 'this placement replica does not lead: send heartbeats to the leader', { details: leading.leader ? { leader: leading.leader } : {} });
    }
    if (placement.worker(id) && !this.holds(id)) {
      log.warn({ worker: id }, 'a heartbeat under the id of a worker that did not register here was refused');
      return refusalResponse({ refused: 403, message: `worker ${JSON.stringify(id)} is not registered here: its id is taken` });
    }
    const known = this.remotes.get(id);
    // A worker restarted under the same id at another URL (a new port) is connected again there.
    if (known && this.urls.get(id) === url && placement.worker(id) === known && placement.renew(id)) {
      known.report(status);
    } else {
      const agent = this.deps.connector.connect({ id, url, status });
      this.remotes.set(id, agent);
      this.urls.set(id, url);
      placement.register(agent, { leased: true });
      this.deps.onWorkerJoined?.(agent);
      log.info({ worker: id, url }, 'worker joined');
    }
    this.deps.onHeartbeat?.({ id, url, status });
    const answer: HeartbeatAnswer = { leaseMs: this.deps.leaseMs };
    if (this.deps.peerKeyHash) answer.peers = this.zonePeers(id, this.deps.peerKeyHash);
    return { status: 200, body: answer };
  }

  /** The other workers placement holds through these registrations in worker `id`'s zone. */
  private zonePeers(id: string, keyHash: (workerId: string) => string): ZonePeerEntry[] {
    const zone = this.deps.placement.zoneOf(id);
    const peers: ZonePeerEntry[] = [];
    for (const [peer, url] of this.urls) {
      if (peer !== id && this.holds(peer) && this.deps.placement.zoneOf(peer) === zone) peers.push({ id: peer, url, keyHash: keyHash(peer) });
    }
    return peers;
  }
}

/** The worker's side: registers with the control plane at `controlPlane`, or renews its lease. */
export async function sendHeartbeat(client: InternalClient, controlPlane: string, worker: { id: string; url: string; status: WorkerStatus }, timeoutMs: number): Promise<HeartbeatAnswer> {
  return (await refusedAs('the control plane refused the worker', () => client.json(`${controlPlane}${WORKERS}`, CONTROL_PLANE_NAME, 'POST', worker, timeoutMs))) as HeartbeatAnswer;
}

/** The worker's side: a certificate for its own TLS server, for the key of `csrPem`. */
export async function requestWorkerCertificate(client: InternalClient, controlPlane: string, csrPem: string, timeoutMs: number): Promise<WorkerCertificate> {
  return (await refusedAs('the control plane issued no certificate', () => client.json(`${controlPlane}${CERTIFICATE}`, CONTROL_PLANE_NAME, 'POST', { csr: csrPem }, timeoutMs))) as WorkerCertificate;
}

async function refusedAs<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!isStratusError(err)) throw err;
    throw new StratusError(err.code, `${what}: ${err.message}`, { details: { ...err.details } });
  }
}
