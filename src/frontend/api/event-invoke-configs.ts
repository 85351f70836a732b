import type { EventInvokeConfig, FunctionRegistry } from '../../registry/index.js';
import type { Clock } from '../../shared/clock.js';
import { StratusError } from '../../shared/errors.js';
import { FUNCTION_ARN } from '../../async/index.js';
import { type ApiRequest, type ApiResponse, parseFunctionRef, parseJsonObject, qualifierOf, type Route, Validator, pathParam } from '../http/index.js';

export interface EventInvokeConfigRoutesDeps {
  registry: FunctionRegistry;
  clock: Clock;
}

const PATH = /^\/2019-09-25\/functions\/([^/]+)\/event-invoke-config\/?$/;
const LIST_PATH = /^\/2019-09-25\/functions\/([^/]+)\/event-invoke-config\/list\/?$/;
const SMALL = { body: 1024 * 1024, tooLargeMessage: 'Request must be smaller than 1048576 bytes', sigv4: true } as const;
const PAGE = 50;
const DESTINATION_PATTERN = '^$|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)';
const DESTINATION = /^$|^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9-])+:([a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1})?:(\d{12})?:(.*)$/;
/** Destination types Lambda has and Stratus does not. */
const UNSUPPORTED: Record<string, string> = { sqs: 'Amazon SQS queue', sns: 'Amazon SNS topic', events: 'Amazon EventBridge event bus', s3: 'Amazon S3 bucket' };

/** Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s): async retry settings and destinations, per qualifier. */
export function eventInvokeConfigRoutes(deps: EventInvokeConfigRoutesDeps): Route[] {
  return [
    { method: 'PUT', pattern: PATH, ...SMALL, handle: (req) => write(deps, req, 'put') },
    { method: 'POST', pattern: PATH, ...SMALL, handle: (req) => write(deps, req, 'update') },
    { method: 'GET', pattern: PATH, ...SMALL, handle: (req) => {
      const { name, qualifier } = target(deps, req, false);
      return { status: 200, body: shape(deps, name, qualifier, existing(deps, name, qualifier)) };
    } },
    { method: 'DELETE', pattern: PATH, ...SMALL, handle: async (req) => {
      const { name, qualifier } = target(deps, req, false);
      existing(deps, name, qualifier);
      await deps.registry.setEventInvokeConfig(name, qualifier, undefined);
      return { status: 204 };
    } },
    { method: 'GET', pattern: LIST_PATH, ...SMALL, handle: (req) => list(deps, req) },
  ];
}

/** The function and qualifier ('$LATEST' when none) the request names. */
function target(deps: EventInvokeConfigRoutesDeps, req: ApiRequest, mustExist: boolean): { name: string; qualifier: string } {
  const ref = parseFunctionRef(pathParam(req, 0));
  const qualifier = qualifierOf(ref, req.query) ?? '$LATEST';
  if (mustExist) {
    try {
      deps.registry.describe(ref.name, qualifier);
    } catch {
      throw new StratusError('ResourceNotFound', "The function doesn't exist.");
    }
  }
  return { name: ref.name, qualifier };
}

function existing(deps: EventInvokeConfigRoutesDeps, name: string, qualifier: string): EventInvokeConfig {
  const found = deps.registry.find(name)?.eventInvoke?.[qualifier];
  if (!found) throw new StratusError('ResourceNotFound', `The function ${deps.registry.qualifiedArn(name, qualifier)} doesn't have an EventInvokeConfig`);
  return found;
}

async function write(deps: EventInvokeConfigRoutesDeps, req: ApiRequest, mode: 'put' | 'update'): Promise<ApiResponse> {
  const body = parseJsonObject(req.body);
  const v = new Validator(body);
  const maximumRetryAttempts = v.integer('MaximumRetryAttempts', 'maximumRetryAttempts', 0, 2);
  const maximumEventAgeInSeconds = v.integer('MaximumEventAgeInSeconds', 'maximumEventAgeInSeconds', 60, 21600);
  const destinations = readDestinations(v);
  v.done();
  if (maximumRetryAttempts === undefined && maximumEventAgeInSeconds === undefined && destinations === undefined) {
    throw new StratusError('InvalidParameterValue', 'You must specify at least one of error handling or destination setting.');
  }
  const { name, qualifier } = target(deps, req, true);
  const base = mode === 'update' ? existing(deps, name, qualifier) : undefined;
  if (destinations) checkDestinations(deps, name, destinations);
  const config: EventInvokeConfig = { ...base, lastModifiedMs: deps.clock.now() };
  if (maximumRetryAttempts !== undefined) config.maximumRetryAttempts = maximumRetryAttempts;
  if (maximumEventAgeInSeconds !== undefined) config.maximumEventAgeInSeconds = maximumEventAgeInSeconds;
  if (destinations) {
    delete config.onSuccess;
    delete config.onFailure;
    if (destinations.onSuccess) config.onSuccess = destinations.onSuccess;
    if (destinations.onFailure) config.onFailure = destinations.onFailure;
  }
  await deps.registry.setEventInvokeConfig(name, qualifier, config);
  return { status: 200, body: shape(deps, name, qualifier, config) };
}

interface Destinations {
  onSuccess?: string;
  onFailure?: string;
}

function readDestinations(v: Validator): Destinations | undefined {
  const config = v.object('DestinationConfig', 'destinationConfig');
  if (!config) return undefined;
  const one = (key: 'OnSuccess' | 'OnFailure', field: string): string | undefined => {
    const branch = config[key];
    if (branch === undefined || branch === null) return undefined;
    if (typeof branch !== 'object' || Array.isArray(branch)) return v.reject(branch, field, 'Member must be an object');
    const arn = (branch as Record<string, unknown>).Destination;
    if (arn === undefined || arn === null) return undefined;
    if (typeof arn !== 'string') return v.reject(arn, `${field}.destination`, 'Member must be a string');
    if (arn.length > 350) return v.reject(arn, `${field}.destination`, 'Member must have length less than or equal to 350');
    if (!DESTINATION.test(arn)) return v.reject(arn, `${field}.destination`, `Member must satisfy regular expression pattern: ${DESTINATION_PATTERN}`);
    return arn === '' ? undefined : arn;
  };
  return { onSuccess: one('OnSuccess', 'destinationConfig.onSuccess'), onFailure: one('OnFailure', 'destinationConfig.onFailure') };
}

/** A destination must be another Stratus function of this account and region. */
function checkDestinations(deps: EventInvokeConfigRoutesDeps, self: string, d: Destinations): void {
  for (const [branch, arn] of [['OnSuccess', d.onSuccess], ['OnFailure', d.onFailure]] as const) {
    if (arn === undefined) continue;
    const service = arn.split(':')[2] ?? '';
    const kind = UNSUPPORTED[service];
    if (kind) {
      throw new StratusError('InvalidParameterValue', `The destination ARN ${arn} is not supported: Stratus delivers ${branch} records only to Lambda functions, not to an ${kind}.`);
    }
    const m = FUNCTION_ARN.exec(arn);
    const name = m?.[2];
    if (service !== 'lambda' || !name) {
      const part = (b: string, value: string | undefined) => (value ? `${b}(destination=${value})` : 'null');
      throw new StratusError('InvalidParameterValue', `The provided destination config DestinationConfig(onSuccess=${part('OnSuccess', d.onSuccess)}, onFailure=${part('OnFailure', d.onFailure)}) is invalid.`);
    }
    if (!arn.startsWith(`${deps.registry.functionArn(name)}`) || !deps.registry.has(name)) {
      throw new StratusError('InvalidParameterValue', `The destination ARN ${arn} is invalid.`);
    }
    if (name === self) throw new StratusError('InvalidParameterValue', "You can't specify the function as a destination for itself.");
  }
}

function shape(deps: EventInvokeConfigRoutesDeps, name: string, qualifier: string, c: EventInvokeConfig): Record<string, unknown> {
  return {
    LastModified: c.lastModifiedMs / 1000,
    FunctionArn: deps.registry.qualifiedArn(name, qualifier),
    ...(c.maximumRetryAttempts !== undefined ? { MaximumRetryAttempts: c.maximumRetryAttempts } : {}),
    ...(c.maximumEventAgeInSeconds !== undefined ? { MaximumEventAgeInSeconds: c.maximumEventAgeInSeconds } : {}),
    DestinationConfig: {
      OnSuccess: c.onSuccess ? { Destination: c.onSuccess } : {},
      OnFailure: c.onFailure ? { Destination: c.onFailure } : {},
    },
  };
}

function list(deps: EventInvokeConfigRoutesDeps, req: ApiRequest): ApiResponse {
  const name = parseFunctionRef(pathParam(req, 0)).name;
  const fn = deps.registry.find(name);
  if (!fn) throw new StratusError('ResourceNotFound', "The function doesn't exist.");
  const v = new Validator(Object.fromEntries([...req.query].map(([k, val]) => [k, k === 'MaxItems' ? Number(val) : val])));
  const maxItems = v.integer('MaxItems', 'maxItems', 1, PAGE) ?? PAGE;
  v.done();
  const all = Object.entries(fn.eventInvoke ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  const start = Number(req.query.get('Marker') ?? 0) || 0;
  const FunctionEventInvokeConfigs = all.slice(start, start + maxItems).map(([qualifier, c]) => shape(deps, name, qualifier, c));
  return { status: 200, body: start + maxItems < all.length ? { FunctionEventInvokeConfigs, NextMarker: String(start + maxItems) } : { FunctionEventInvokeConfigs } };
}
