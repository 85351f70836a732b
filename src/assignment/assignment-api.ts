import type { AddressInfo } from 'node:net';
import type { FunctionVersion } from '../registry/index.js';
import { isStratusError, StratusError } from '../shared/errors.js';
import { controlPlaneOnly, type Authenticate } from '../shared/cluster-api.js';
import { HttpServer, jsonBody, routesUnder, wireErrorResponse, type HttpRoute } from '../shared/http-server.js';
import type { Logger } from '../shared/log.js';
import type { TlsIdentity } from '../shared/tls.js';
import { traceparentFrom } from '../shared/tracing.js';
import type { AssignmentService } from './assignment.js';

export const ASSIGNMENT_API = '/_stratus/assignment/v1';

/** What an acquire answers: the environment and where its worker serves. */
export interface GrantWire {
  envId: string;
  workerId: string;
  workerUrl: string;
  cold: boolean;
  epoch?: number;
  grant: string;
}

export interface AssignmentApiDeps {
  /** The service while this replica leads; undefined otherwise (requests get NotLeader). */
  leader(): AssignmentService | undefined;
  workerUrl(workerId: string): string | undefined;
  /** What GET /status shows (the replica's role, for operators and tests). */
  status(): unknown;
  /** Only the control plane may call (frontends, with the control-plane credential). */
  authenticate: Authenticate;
  /** This process's server certificate (the cluster's control-plane name); absent: plain HTTP (tests). */
  tls?: TlsIdentity;
  log: Logger;
}

const MAX_BODY = 1024 * 1024;

/**
 * The assignment replica's API for frontends in other processes: acquire and release
 * environments, provisioned counts, and the table's environments by worker (the console). It only translates HTTP into AssignmentService calls;
 * errors go back in their wire form (a replica that does not lead answers NotLeader).
 */
export class AssignmentApiServer {
  private readonly server: HttpServer;

  constructor(private readonly deps: AssignmentApiDeps) {
    this.server = new HttpServer({
      routes: this.routes(),
      keepAliveTimeoutMs: 60_000,
      tls: deps.tls,
      authenticateHead: controlPlaneOnly(deps.authenticate, 'assignment'),
      notFound: (method, path) => wireErrorResponse(new StratusError('ResourceNotFound', `No assignment API at ${method} ${path}`)),
      errorReply: (err) => {
        const reply = wireErrorResponse(err);
        // NotLeader, throttling and the like are answers; only the unexpected is worth a log line.
        if (!isStratusError(err) || err.code === 'Internal') deps.log.warn({ err }, 'assignment API request failed');
        return reply;
      },
    });
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return this.server.listen(host, port);
  }

  close(): Promise<void> {
    return this.server.close();
  }

  get scheme(): 'http' | 'https' {
    return this.server.scheme;
  }

  private routes(): HttpRoute[] {
    const route = routesUnder(ASSIGNMENT_API, MAX_BODY);
    return [
      route('GET', '/status', () => ({ status: 200, body: this.deps.status() })),
      route('POST', '/acquire', async (req) => {
        const service = this.leader();
        const trace = traceparentFrom(req.headers);
        const lease = await service.acquire(jsonBody<{ fn: FunctionVersion }>(req).fn, trace === undefined ? {} : { trace });
        const workerUrl = this.deps.workerUrl(lease.worker.id);
        if (!workerUrl) {
          service.release(lease, false);
          throw new StratusError('WorkerUnavailable', `worker ${lease.worker.id} has left`);
        }
        return { status: 200, body: { envId: lease.envId, workerId: lease.worker.id, workerUrl, cold: lease.cold, epoch: lease.epoch, grant: lease.grant } satisfies GrantWire };
      }),
      route('POST', '/release', (req) => {
        const service = this.leader();
        const { envId, reusable, grant } = jsonBody<{ envId?: unknown; reusable?: unknown; grant?: unknown }>(req);
        service.release({ envId: String(envId), grant: String(grant) }, reusable === true);
        return { status: 204 };
      }),
      route('POST', '/environments', async () => ({ status: 200, body: { workers: await this.leader().environments() } })),
      route('POST', '/provisioned-count', (req) => {
        const service = this.leader();
        return { status: 200, body: { count: service.provisionedCount(jsonBody<{ fn: FunctionVersion }>(req).fn) } };
      }),
    ];
  }

  private leader(): AssignmentService {
    const service = this.deps.leader();
    if (!service) throw new StratusError('NotLeader', 'This assignment replica is not the leader.');
    return service;
  }
}
