export { PlacementService, type LeaseConfig, type PlacementRequest } from './placement.js';
export type { ConnectedWorker, WorkerAddress, WorkerConnector } from './connector.js';
export { WorkerRegistrations, sendHeartbeat, type WorkerRegistrationDeps } from './registration.js';
export { WorkerMembership, type MembershipDeps, type WorkerDocument } from './membership.js';
export { WorkerDirectory } from './directory.js';
