export { AssignmentService, type AcquireOptions, type Assigner, type AssignmentDeps, type Lease } from './assignment.js';
export { AssignmentApiServer, ASSIGNMENT_API } from './assignment-api.js';
export { AssignmentReplica, type ReplicaRole } from './replica.js';
export { RemoteAssignment } from './remote-assignment.js';
export { EnvironmentTable } from './environments.js';
export { ConcurrencyLimiter, type ConcurrencyLimits } from './concurrency-limiter.js';
export type { EnvironmentEntry, EnvironmentState, AssignmentLogEntry, CreatedEntry } from './environments.js';
export { environmentSpec } from './environment-spec.js';
export type { ListedEnvironment, ListedState, WorkerEnvironments } from './listing.js';
