import { CLUSTER_API, withClusterToken } from '../shared/cluster-api.js';
import { fromWireError, StratusError } from '../shared/errors.js';
import { jsonBody, type HttpRequest, type HttpResponse, type HttpRoute } from '../shared/http-server.js';
import type { Logger } from '../shared/log.js';
import type { WorkerStatus } from '../worker/index.js';
import type { ConnectedWorker, WorkerConnector } from './connector.js';
import type { WorkerDocument } from './membership.js';
import type { PlacementService } from './placement.js';

const WORKERS = `${CLUSTER_API}/workers`;

export interface WorkerRegistrationDeps {
  /** The cluster token every worker must present. */
  token: string;
  placement: PlacementService;
  connector: WorkerConnector;
  leaseMs: number;
  log: Logger;
  /** A worker registered for the first time (or again, after its lease ran out). */
  onWorkerJoined?(agent: ConnectedWorker): void;
  /** Every accepted heartbeat, with what the worker reported (the cluster's worker directory). */
  onHeartbeat?(worker: WorkerDocument): void;
}

/**
 * Workers in other processes join placement here: their first heartbeat registers them with a
 * lease, every later one renews it and carries their status. Served on the control plane's
 * internal API (`routes()`); `sendHeartbeat` is the worker's side.
 */
export class WorkerRegistrations {
  /** The remote workers this registration connected, by id (placement holds their leases). */
  private readonly remotes = new Map<string, ConnectedWorker>();

  constructor(private readonly deps: WorkerRegistrationDeps) {
    deps.placement.onWorkerLost((id) => this.remotes.delete(id));
  }

  /** A worker recorded earlier (by a previous placement process) gets a fresh lease: a gone one runs out. */
  adopt(worker: WorkerDocument): void {
    const agent = this.deps.connector.connect(worker);
    this.remotes.set(worker.id, agent);
    this.deps.placement.register(agent, { leased: true });
  }

  routes(): HttpRoute[] {
    const pattern = new RegExp(`^${WORKERS.replaceAll('/', '\\/')}$`);
    return [{ method: 'POST', pattern, body: 1024 * 1024, tooLargeMessage: 'too large', handle: withClusterToken(this.deps.token, (req) => this.heartbeat(req)) }];
  }

  private heartbeat(req: HttpRequest): HttpResponse {
    const { placement, log } = this.deps;
    const { id, url, status } = jsonBody<WorkerDocument>(req);
    const known = this.remotes.get(id);
    if (known && placement.worker(id) === known && placement.renew(id)) {
      known.report(status);
    } else {
      const agent = this.deps.connector.connect({ id, url, status });
      this.remotes.set(id, agent);
      placement.register(agent, { leased: true });
      this.deps.onWorkerJoined?.(agent);
      log.info({ worker: id, url }, 'worker joined');
    }
    this.deps.onHeartbeat?.({ id, url, status });
    return { status: 200, body: { leaseMs: this.deps.leaseMs } };
  }
}

/** The worker's side: registers with the control plane at `controlPlane`, or renews its lease. */
export async function sendHeartbeat(controlPlane: string, token: string, worker: { id: string; url: string; status: WorkerStatus }, timeoutMs: number): Promise<void> {
  const res = await fetch(`${controlPlane}${WORKERS}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(worker),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.ok) return;
  const answer = (await res.json().catch(() => undefined)) as unknown;
  const err = fromWireError(answer, `HTTP ${res.status}`);
  throw new StratusError(err.code, `the control plane refused the worker: ${err.message}`, { details: { ...err.details } });
}
