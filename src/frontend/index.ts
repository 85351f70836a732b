/** The Lambda API: its HTTP layer (SigV4, errors), the management handlers, and the invoke path. */
export { ERROR_TYPE_HEADER, FrontendServer, verifySigV4, type CredentialLookup, type FrontendServerDeps, type KeyLookup, type Route } from './http/index.js';
export {
  accountRoutes, ADMIN_API, CodeLinks, accountSettingsRoutes, aliasRoutes, perCaller, concurrencyRoutes, eventInvokeConfigRoutes, functionRoutes, functionUrlRoutes,
  FunctionLayers, layerRoutes, logsRoutes, permissionRoutes, provisionedConcurrencyRoutes, schedulerRoutes, tagRoutes, versionRoutes,
  type AccountSettingsDeps, type AliasRoutesDeps, type ConcurrencyRoutesDeps, type EventInvokeConfigRoutesDeps, type FunctionRoutesDeps,
  type FunctionUrlRoutesDeps, type ImageSourceImporter, type LogsRoutesDeps, type PermissionRoutesDeps, type ProvisionedRoutesDeps, type TagRoutesDeps, type VersionRoutesDeps,
} from './api/index.js';
export { codeSigningConfigRoutes, functionCodeSigningRoutes, unavailableFunctionRoutes, unavailableRoutes } from './api/index.js';
export {
  invocationRoutes, InvokeService, resourcePolicyChecks, streamingInvocationRoutes, urlInvocationRoutes,
  type InvocationRoutesDeps, type InvokeOutcome, type InvokeRequest, type StreamingInvocationRoutesDeps, type UrlInvocationDeps,
} from './invoke/index.js';
export {
  ChartSampler, consoleEndpoints, consoleRoutes, ConsoleSessions, CONSOLE_PATH, CSRF_HEADER,
  type ConsoleEndpointDeps, type ConsoleSession,
} from './console/index.js';
