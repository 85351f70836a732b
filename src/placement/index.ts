export { PlacementService, type PlacementRequest } from './placement.js';
