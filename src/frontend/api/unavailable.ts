import type { FunctionRegistry } from '../../registry/index.js';
import { StratusError } from '../../shared/errors.js';
import { type ApiRequest, parseFunctionRef, parseJsonObject, qualifierOf, type Route, Validator, pathParam } from '../http/index.js';
import { patternUnqualifiedName } from './strict.js';

/**
 * Lambda API operations whose feature Stratus does not have, each answered deliberately (see
 * docs/lambda-api-coverage.md): a list is empty, a named resource is one that does not exist, a
 * setting reads as what Stratus does, and creating one is refused with
 * InvalidParameterValueException saying why. None of them is a silent success.
 */
const SMALL = { body: 1024 * 1024, tooLargeMessage: 'Request must be smaller than 1048576 bytes', sigv4: true } as const;
const FN = '([^/]+)';
const SEG = '([^/]+)';

function refuse(feature: string, advice = ''): () => never {
  return () => {
    throw new StratusError('InvalidParameterValue', `${feature} not supported by this Stratus installation.${advice}`);
  };
}

function notFound(message: string): () => never {
  return () => {
    throw new StratusError('ResourceNotFound', message);
  };
}

const route = (method: string, path: string, handle: Route['handle']): Route => ({ method, pattern: new RegExp(`^${path}/?$`), ...SMALL, handle });
const ok = (body: unknown) => ({ status: 200, body });

export interface UnavailableFunctionRoutesDeps {
  registry: FunctionRegistry;
}

/** Per-function settings of features Stratus does not have: they read as what Stratus does. */
export function unavailableFunctionRoutes(deps: UnavailableFunctionRoutesDeps): Route[] {
  const fn = (req: ApiRequest) => deps.registry.get(patternUnqualifiedName(req)).name;
  /** GetRuntimeManagementConfig and its Put name a function, a version or an alias (Qualifier). */
  const described = (req: ApiRequest) => {
    const ref = parseFunctionRef(pathParam(req, 0));
    return deps.registry.describe(ref.name, qualifierOf(ref, req.query)).arn;
  };
  const enumOf = (req: ApiRequest, key: string, field: string, values: readonly string[]) => {
    const v = new Validator(parseJsonObject(req.body));
    const value = v.string(key, field, { required: true, enum: values });
    v.done();
    return value;
  };
  return [
    // Stratus does not detect recursive loops: every function's loops are allowed.
    route('GET', `/2024-08-31/functions/${FN}/recursion-config`, (req) => (fn(req), ok({ RecursiveLoop: 'Allow' }))),
    route('PUT', `/2024-08-31/functions/${FN}/recursion-config`, (req) => {
      fn(req);
      if (enumOf(req, 'RecursiveLoop', 'recursiveLoop', ['Allow', 'Terminate']) !== 'Allow') {
        refuse('RecursiveLoop Terminate is')();
      }
      return ok({ RecursiveLoop: 'Allow' });
    }),
    // Runtimes are the installation's own and change with it: Auto.
    route('GET', `/2021-07-20/functions/${FN}/runtime-management-config`, (req) => ok({ UpdateRuntimeOn: 'Auto', FunctionArn: described(req) })),
    route('PUT', `/2021-07-20/functions/${FN}/runtime-management-config`, (req) => {
      const arn = described(req);
      if (enumOf(req, 'UpdateRuntimeOn', 'updateRuntimeOn', ['Auto', 'Manual', 'FunctionUpdate']) !== 'Auto') {
        refuse('UpdateRuntimeOn other than Auto is')();
      }
      return ok({ UpdateRuntimeOn: 'Auto', FunctionArn: arn });
    }),
    // Scaling configs belong to functions on capacity providers, which Stratus does not have.
    route('GET', `/2025-11-30/functions/${FN}/function-scaling-config`, (req) => (fn(req), refuse('Capacity providers (Lambda Managed Instances) are')())),
    route('PUT', `/2025-11-30/functions/${FN}/function-scaling-config`, (req) => (fn(req), refuse('Capacity providers (Lambda Managed Instances) are')())),
    route('GET', `/2025-12-01/functions/${FN}/durable-executions`, (req) => (described(req), ok({ DurableExecutions: [] }))),
  ];
}

/** Account-level resources of features Stratus does not have: none exists, and none can be made. */
export function unavailableRoutes(): Route[] {
  const esmMissing = notFound('The resource you requested does not exist.');
  const capacityMissing = (req: ApiRequest) => notFound(`Capacity provider ${pathParam(req, 0)} not found.`)();
  const durableMissing = (req: ApiRequest) => notFound(`Durable execution ${pathParam(req, 0)} not found.`)();
  const callbackMissing = (req: ApiRequest) => notFound(`Callback ${pathParam(req, 0)} not found.`)();
  return [
    route('GET', '/2015-03-31/event-source-mappings', () => ok({ EventSourceMappings: [] })),
    route('POST', '/2015-03-31/event-source-mappings', refuse('Event source mappings (Amazon SQS, Kinesis, DynamoDB, Kafka, MQ, DocumentDB) are')),
    route('GET', `/2015-03-31/event-source-mappings/${SEG}`, esmMissing),
    route('PUT', `/2015-03-31/event-source-mappings/${SEG}`, esmMissing),
    route('DELETE', `/2015-03-31/event-source-mappings/${SEG}`, esmMissing),
    route('GET', '/2025-11-30/capacity-providers', () => ok({ CapacityProviders: [] })),
    route('POST', '/2025-11-30/capacity-providers', refuse('Capacity providers (Lambda Managed Instances) are')),
    route('GET', `/2025-11-30/capacity-providers/${SEG}`, capacityMissing),
    route('PUT', `/2025-11-30/capacity-providers/${SEG}`, capacityMissing),
    route('DELETE', `/2025-11-30/capacity-providers/${SEG}`, capacityMissing),
    route('GET', `/2025-11-30/capacity-providers/${SEG}/function-versions`, capacityMissing),
    route('GET', `/2025-12-01/durable-executions/${SEG}`, durableMissing),
    route('GET', `/2025-12-01/durable-executions/${SEG}/history`, durableMissing),
    route('GET', `/2025-12-01/durable-executions/${SEG}/state`, durableMissing),
    route('POST', `/2025-12-01/durable-executions/${SEG}/checkpoint`, durableMissing),
    route('POST', `/2025-12-01/durable-executions/${SEG}/stop`, durableMissing),
    route('POST', `/2025-12-01/durable-execution-callbacks/${SEG}/(?:fail|heartbeat|succeed)`, callbackMissing),
    route('GET', `/2026-07-09/resource-policy/${SEG}`, refuse('Resource policies by resource ARN are', ' Use GetPolicy for a function.')),
    route('PUT', `/2026-07-09/resource-policy/${SEG}`, refuse('Resource policies by resource ARN are', ' Use AddPermission for a function.')),
    route('DELETE', `/2026-07-09/resource-policy/${SEG}`, refuse('Resource policies by resource ARN are', ' Use RemovePermission for a function.')),
    route('POST', `/2014-11-13/functions/${FN}/invoke-async`, refuse('InvokeAsync (deprecated by AWS) is', ' Use Invoke with InvocationType Event.')),
  ];
}
