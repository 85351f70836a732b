export { AssignmentService, type AssignmentDeps, type Lease } from './assignment.js';
export type { EnvironmentEntry, EnvironmentState, AssignmentLogEntry } from './environments.js';
