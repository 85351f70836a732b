export { DEFAULT_ZONE, PlacementService, type LeaseConfig, type PlacementRequest } from './placement.js';
export type { ConnectedWorker, WorkerAddress, WorkerConnector } from './connector.js';
export { WorkerMembership, type MembershipDeps, type WorkerDocument } from './membership.js';
export { WorkerDirectory } from './directory.js';
export {
  WorkerRegistrations, requestWorkerCertificate, sendHeartbeat, type HeartbeatAnswer, type WorkerCertificate, type WorkerRegistrationDeps, type ZonePeerEntry,
} from './registration.js';
export {
  controlPlaneCredential, controlPlaneKeyHash, loadClusterSecrets, workerApiCredential, workerApiKeyHash, workerPeerKey, workerPeerKeyHash, type ClusterSecrets,
} from './cluster-secrets.js';
export { WorkerCredentials, workerAuthorization, type WorkerBundle, type WorkerCredentialRecord } from './worker-credentials.js';
export { PlacementLeader, type PlacementLeaderDeps } from './leader.js';
export { ControlPlanes } from './control-planes.js';
export { StaticWorkerProvider, type ProvidedWorker, type WorkerProvider, type WorkerSpec } from './worker-provider.js';
export { LocalHostsProvider, type LocalHostsOptions } from './local-hosts.js';
export { canMakeHosts } from './host-network.js';
export { FleetScaler, type FleetAction, type FleetMember, type FleetScalerConfig, type FleetScalerDeps } from './fleet-scaler.js';
export {
  announceWorkerSize, FleetDemandPublisher, FleetDemandReader, FleetWorkerSize, FLEET_DEMAND_KEY, FLEET_WORKER_SIZE_KEY, type FleetDemandDocument,
} from './fleet-demand.js';
