export { FunctionRegistry, type DescribedFunction, type RegistryCollection, type RegistryDeps, type RegistryQuota } from './functions.js';
export { FunctionRegistries, type FunctionRegistriesDeps } from './registries.js';
export type { FunctionSettings } from './settings.js';
export type { PublishOptions } from './publishing.js';
export type { AliasCatalog, AliasInput } from './aliases.js';
export type { FunctionUrlCatalog, FunctionUrlPatch } from './function-urls.js';
export { notFound as functionUrlNotFound } from './function-urls.js';
export type { VersionCatalog } from './versions.js';
export {
  addPermission, FUNCTION_POLICY, PERMISSION_FIELDS, policyAllows, policyDocument, policyKey, POLICY_QUALIFIER, REMOVE_STATEMENT_ID, removePermission,
  type FieldRule, type FunctionPolicy, type PermissionInput, type PolicyPrincipal, type PolicyRequest, type PolicyStatement,
} from './policies.js';
export {
  type VersionSnapshot,
  environmentKey, isSupportedRuntime, SUPPORTED_RUNTIMES,
  type AliasRecord, type EventInvokeConfig, type FunctionLayer, type FunctionRecord, type FunctionSnapshot, type FunctionUrlRecord, type FunctionVersion, type PublishedVersion,
  type ImageConfigOverrides, type ImageSource, type RuntimeId, type UrlAuthType, type UrlCors, type UrlInvokeMode,
} from './model.js';
export {
  APPLICATION_LOG_LEVELS, applyLogging, defaultLogging, LOG_FORMATS, loggingOf, SYSTEM_LOG_LEVELS,
  type ApplicationLogLevel, type LogFormat, type LoggingConfig, type LoggingInput, type SystemLogLevel,
} from './logging.js';
