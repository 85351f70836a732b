export { logIngestRoutes, storeLogs } from './ingest.js';
export { DEFAULT_LOG_BYTES_PER_ACCOUNT, LogExpiry, type LogExpiryDeps } from './expiry.js';
