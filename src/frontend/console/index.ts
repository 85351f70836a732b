/** The web console on the Lambda API's port (`/_stratus/console/`): see docs/console.md. */
export { ChartSampler, type ChartPoint, type ChartSamplerOptions } from './charts.js';
export { consoleEndpoints, type ConsoleEndpointDeps } from './endpoints.js';
export { CONSOLE_PATH, consoleRoutes, CSRF_HEADER, type ConsoleEndpoint } from './routes.js';
export { ConsoleSessions, SESSION_TTL_MS, type ConsoleSession } from './sessions.js';
