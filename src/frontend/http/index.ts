export { FrontendServer, type FrontendServerDeps, type KeyLookup } from './server.js';
export { header, type ApiRequest, type ApiResponse, type Route } from './routes.js';
export { verifySigV4, type CredentialLookup } from './sigv4.js';
export { accountNamedIn, FUNCTION_NAME_PATTERN, parseFunctionRef, pathParam, qualifierOf, type FunctionRef } from './names.js';
export { parseJsonObject, Validator } from './validation.js';
export { ERROR_TYPE_HEADER, errorResponse, JSON_11_CONTENT_TYPE, logsErrorResponse, logsUnknownOperationResponse, schedulerErrorResponse } from './errors.js';
export { CONSOLE_SESSION_COOKIE } from './cookies.js';
