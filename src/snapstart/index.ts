export { SnapStartService, snapshotOwner, UNAVAILABLE, type OwnerElection, type SnapStartDeps } from './snapstart.js';
