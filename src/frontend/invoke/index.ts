export { invocationRoutes, type InvocationRoutesDeps } from './invocations.js';
export { streamingInvocationRoutes, type StreamingInvocationRoutesDeps } from './streaming-invocations.js';
export { urlInvocationRoutes, type UrlInvocationDeps } from './url-invocations.js';
export { InvokeService, type InvokeRequest, type InvokeOutcome } from './invoke-service.js';
export { resourcePolicyChecks } from './resource-policies.js';
