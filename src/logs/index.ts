/** CloudWatch Logs for function logs: groups, streams and events per account over the journal's LogStore. */
export { LOGS_OPERATIONS, LogsService, type LogsOperation, type LogsRequest, type LogsResponse, type LogsServiceDeps } from './logs-service.js';
export { PageTokens, type TokenScope } from './tokens.js';
export { parseFilterPattern, MAX_PATTERN_LENGTH, type FilterPattern } from './filter-pattern.js';
export { logIngestRoutes, storeLogs } from './ingest.js';
export { DEFAULT_LOG_BYTES_PER_ACCOUNT, LogExpiry, type LogExpiryDeps } from './expiry.js';
