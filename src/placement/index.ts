export { PlacementService, type LeaseConfig, type PlacementRequest } from './placement.js';
