export { SnapStartService, UNAVAILABLE, type SnapStartDeps } from './snapstart.js';
