export { logIngestRoutes, storeLogs } from './ingest.js';
