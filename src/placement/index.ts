export { PlacementService, type LeaseConfig, type PlacementRequest } from './placement.js';
export { WorkerMembership, type WorkerDocument } from './membership.js';
export { WorkerDirectory } from './directory.js';
