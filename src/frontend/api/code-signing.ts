import type { FunctionRegistry } from '../../registry/index.js';
import { StratusError } from '../../shared/errors.js';
import { parseJsonObject, type Route, pathParam } from '../http/index.js';
import { unqualifiedName } from './strict.js';

export interface CodeSigningRoutesDeps {
  registry: FunctionRegistry;
}

const SMALL = { body: 1024 * 1024, tooLargeMessage: 'Request must be smaller than 1048576 bytes', sigv4: true } as const;
const FUNCTION_CSC = /^\/2020-06-30\/functions\/([^/]+)\/code-signing-config\/?$/;
const CONFIGS = /^\/2020-04-22\/code-signing-configs\/?$/;
const CONFIG = /^\/2020-04-22\/code-signing-configs\/([^/]+)\/?$/;
const CONFIG_FUNCTIONS = /^\/2020-04-22\/code-signing-configs\/([^/]+)\/functions\/?$/;

/** Why CreateCodeSigningConfig is refused (see docs/lambda-api-coverage.md). */
export const NO_CODE_SIGNING =
  'Code signing is not supported by this Stratus installation: it does not verify AWS Signer signatures, so it will not store a configuration that promises to.';

/**
 * The code-signing operations, as Lambda answers them in an account without a code signing
 * configuration: Stratus never has one, because CreateCodeSigningConfig is refused (Stratus
 * cannot verify AWS Signer signatures). Every function reads as having none (what Terraform's
 * AWS provider reads for each function), lists are empty, and a configuration named by ARN is
 * one that does not exist.
 */
export function functionCodeSigningRoutes(deps: CodeSigningRoutesDeps): Route[] {
  const fn = (req: Parameters<Route['handle']>[0]) => {
    const name = unqualifiedName(req);
    deps.registry.get(name);
    return name;
  };
  return [
    { method: 'GET', pattern: FUNCTION_CSC, ...SMALL, handle: (req) => ({ status: 200, body: { CodeSigningConfigArn: '', FunctionName: fn(req) } }) },
    { method: 'PUT', pattern: FUNCTION_CSC, ...SMALL, handle: (req) => {
      const arn = parseJsonObject(req.body).CodeSigningConfigArn;
      if (typeof arn !== 'string') {
        throw new StratusError('Validation', "1 validation error detected: Value null at 'codeSigningConfigArn' failed to satisfy constraint: Member must not be null");
      }
      throw configNotFoundForFunction(arn);
    } },
    { method: 'DELETE', pattern: FUNCTION_CSC, ...SMALL, handle: (req) => (fn(req), { status: 204 }) },
  ];
}

/** The account-level code signing configurations (none can exist). */
export function codeSigningConfigRoutes(): Route[] {
  const notFound = (req: Parameters<Route['handle']>[0]): never => {
    throw new StratusError('ResourceNotFound', `The Lambda code signing configuration ${pathParam(req, 0)} can not be found.`);
  };
  return [
    { method: 'POST', pattern: CONFIGS, ...SMALL, handle: (req) => {
      parseJsonObject(req.body);
      throw new StratusError('InvalidParameterValue', NO_CODE_SIGNING);
    } },
    { method: 'GET', pattern: CONFIGS, ...SMALL, handle: () => ({ status: 200, body: { CodeSigningConfigs: [] } }) },
    { method: 'GET', pattern: CONFIG, ...SMALL, handle: notFound },
    { method: 'PUT', pattern: CONFIG, ...SMALL, handle: notFound },
    { method: 'DELETE', pattern: CONFIG, ...SMALL, handle: notFound },
    { method: 'GET', pattern: CONFIG_FUNCTIONS, ...SMALL, handle: notFound },
  ];
}

/** PutFunctionCodeSigningConfig's (and CreateFunction's) answer for a configuration that does not exist. */
export function configNotFoundForFunction(arn: string): StratusError {
  return new StratusError('CodeSigningConfigNotFound', `The code signing configuration cannot be found. Check that the provided configuration is not deleted: ${arn}.`);
}
