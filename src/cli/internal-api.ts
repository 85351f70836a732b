import { downloadRoutes, type ChunkStore, type CodeStore } from '../codestore/index.js';
import type { DocumentStore } from '../journal/index.js';
import { logIngestRoutes } from '../logs/index.js';
import type { ShipLogs } from '../worker/index.js';
import {
  workerApiCredential, workerApiKeyHash, workerPeerKey, workerPeerKeyHash, WorkerCredentials, WorkerRegistrations, type ClusterSecrets, type ConnectedWorker, type PlacementService, type WorkerDocument,
} from '../placement/index.js';
import type { Clock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { HttpServer, wireErrorResponse } from '../shared/http-server.js';
import type { Logger } from '../shared/log.js';
import type { LogGrants } from '../shared/log-grants.js';
import { CONTROL_PLANE_NAME, csrPublicKey, issueServerCertificate, issueServerIdentity, workerServerName } from '../shared/tls.js';
import { httpWorkerConnector } from './worker-connector.js';

export interface InternalApiDeps {
  secrets: ClusterSecrets;
  /** The journal's per-worker credentials (`stratus workers add|revoke`), read on every request. */
  credentials: DocumentStore;
  code: CodeStore;
  chunks: ChunkStore;
  /** Where workers' function logs are stored, each batch under the worker's grant for its group. */
  shipLogs: ShipLogs;
  logGrants: LogGrants;
  placement: PlacementService;
  leaseMs: number;
  clock: Clock;
  log: Logger;
  host: string;
  port: number;
  onWorkerJoined?(agent: ConnectedWorker): void;
  /** A replicated placement: whether this replica takes heartbeats (see WorkerRegistrationDeps.leading). */
  leading?(): true | { leader?: string };
  onHeartbeat?(worker: WorkerDocument): void;
}

export interface InternalApi {
  /** `https://HOST:PORT`: what `stratus worker --control-plane` is given. */
  url: string;
  port: number;
  registrations: WorkerRegistrations;
  stop(): Promise<void>;
}

/**
 * The control plane's internal API for workers in other processes, as a cluster's placement
 * process and `stratus up` both serve it: TLS with a certificate of the cluster CA for the
 * control plane's name; registration and heartbeats with each worker's own credential (a
 * worker is given its server certificate for its own id only); code, chunk and image
 * downloads; workers' function logs. A credential revoked by this process (or seen revoked by its journal's watch)
 * ends the worker's lease at once; every request is checked against the journal, so a
 * revocation is refused from the next request either way.
 */
export async function startInternalApi(deps: InternalApiDeps): Promise<InternalApi> {
  const { secrets, placement, clock, log } = deps;
  const credentials = new WorkerCredentials(deps.credentials);
  const authenticate = (authorization: string | undefined) => credentials.authenticate(authorization);
  const revoked = new Set<string>();
  const registrations = new WorkerRegistrations({
    authenticate, placement, connector: httpWorkerConnector((workerId) => workerApiCredential(secrets, workerId), log), leaseMs: deps.leaseMs, log,
    revoked: (workerId) => revoked.has(workerId),
    certificates: (workerId, csr) => ({
      certificate: issueServerCertificate(secrets.ca, csrPublicKey(csr), workerServerName(workerId), clock.now()),
      workerApiKeyHash: workerApiKeyHash(secrets, workerId),
      peerKey: workerPeerKey(secrets, workerId),
    }),
    peerKeyHash: (workerId) => workerPeerKeyHash(secrets, workerId),
    onWorkerJoined: deps.onWorkerJoined,
    leading: deps.leading,
    onHeartbeat: deps.onHeartbeat,
  });
  const unwatch = await credentials.watch((workerId, active) => {
    if (active) return void revoked.delete(workerId);
    revoked.add(workerId);
    if (!registrations.holds(workerId)) return;
    log.warn({ worker: workerId }, 'worker credential revoked: its lease ends now');
    placement.remove(workerId);
  });
  const server = new HttpServer({
    routes: [...registrations.routes(), ...downloadRoutes({ authenticate, code: deps.code, chunks: deps.chunks }), ...logIngestRoutes({ authenticate, ship: deps.shipLogs, grants: deps.logGrants })],
    tls: issueServerIdentity(secrets.ca, CONTROL_PLANE_NAME, clock.now()),
    log,
    notFound: (method, path) => wireErrorResponse(new StratusError('ResourceNotFound', `No cluster API at ${method} ${path}`)),
    errorReply: (err) => wireErrorResponse(err),
  });
  const address = await server.listen(deps.host, deps.port);
  return {
    url: `${server.scheme}://${deps.host}:${address.port}`,
    port: address.port,
    registrations,
    async stop() {
      unwatch();
      await server.close();
    },
  };
}
