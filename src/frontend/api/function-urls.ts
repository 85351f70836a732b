import type { Clock } from '../../shared/clock.js';
import { StratusError } from '../../shared/errors.js';
import { functionUrlNotFound, type FunctionRegistry, type FunctionUrlPatch, type FunctionUrlRecord, type UrlCors } from '../../registry/index.js';
import { type ApiRequest, type ApiResponse, parseFunctionRef, parseJsonObject, qualifierOf, type Route, Validator, pathParam } from '../http/index.js';
import { functionUrlConfiguration } from './shapes.js';

export interface FunctionUrlRoutesDeps {
  registry: FunctionRegistry;
  clock: Clock;
}

/**
 * Function URLs are served on the API's own port under this prefix, which no Lambda API path
 * starts with: /lambda-url/<function>/... for the function, /lambda-url/<function>:<alias>/...
 * for an alias (function and alias names cannot contain ':').
 */
export const URL_PREFIX = '/lambda-url/';

export function functionUrl(origin: string, accountId: string, name: string, qualifier?: string): string {
  return `${origin}${URL_PREFIX}${accountId}/${name}${qualifier === undefined ? '' : `:${qualifier}`}/`;
}

const URL_CONFIG = /^\/2021-10-31\/functions\/([^/]+)\/url\/?$/;
const URL_CONFIGS = /^\/2021-10-31\/functions\/([^/]+)\/urls\/?$/;
const QUALIFIER = /^(?!\d+$)[0-9a-zA-Z-_]+$/;
const QUALIFIER_TEXT = '((?!^\\d+$)^[0-9a-zA-Z-_]+$)';
const AUTH_TYPES = ['NONE', 'AWS_IAM'] as const;
const INVOKE_MODES = ['BUFFERED', 'RESPONSE_STREAM'] as const;
const PAGE = 50;

/** Create/Get/Update/Delete/ListFunctionUrlConfig(s) (registry/function-urls.ts keeps them). */
export function functionUrlRoutes(deps: FunctionUrlRoutesDeps): Route[] {
  const limits = { body: 1024 * 1024, tooLargeMessage: 'Request must be smaller than 1048576 bytes for the function URL operation', sigv4: true };
  return [
    { method: 'POST', pattern: URL_CONFIG, ...limits, handle: (req) => create(deps, req) },
    { method: 'GET', pattern: URL_CONFIG, ...limits, handle: (req) => {
      const { name, qualifier } = target(req);
      const config = deps.registry.urls.get(name, qualifier);
      if (!config || !exists(deps, name, qualifier)) throw functionUrlNotFound();
      return { status: 200, body: describe(deps, req, config) };
    } },
    { method: 'PUT', pattern: URL_CONFIG, ...limits, handle: (req) => update(deps, req) },
    { method: 'DELETE', pattern: URL_CONFIG, ...limits, handle: async (req) => {
      const { name, qualifier } = target(req);
      if (!exists(deps, name, qualifier) || !(await deps.registry.urls.remove(name, qualifier))) throw functionUrlNotFound();
      return { status: 204 };
    } },
    { method: 'GET', pattern: URL_CONFIGS, ...limits, handle: (req) => list(deps, req) },
  ];
}

async function create(deps: FunctionUrlRoutesDeps, req: ApiRequest): Promise<ApiResponse> {
  const { name, qualifier } = target(req);
  const input = readConfig(req, true);
  if (!exists(deps, name, qualifier)) throw new StratusError('ResourceNotFound', 'Function does not exist');
  const now = deps.clock.now();
  const config = await deps.registry.urls.create({
    functionName: name, qualifier, authType: input.authType ?? 'NONE', invokeMode: input.invokeMode ?? 'BUFFERED',
    ...(input.cors ? { cors: input.cors } : {}), creationTimeMs: now, lastModifiedMs: now,
  });
  const { LastModifiedTime, InvokeMode, ...created } = describe(deps, req, config);
  return { status: 201, body: input.invokeMode ? { ...created, InvokeMode } : created };
}

async function update(deps: FunctionUrlRoutesDeps, req: ApiRequest): Promise<ApiResponse> {
  const { name, qualifier } = target(req);
  const input = readConfig(req, false);
  if (!exists(deps, name, qualifier)) throw new StratusError('ResourceNotFound', 'Function does not exist');
  const config = await deps.registry.urls.update(name, qualifier, input, deps.clock.now());
  const { InvokeMode, ...updated } = describe(deps, req, config);
  return { status: 200, body: input.invokeMode ? { ...updated, InvokeMode } : updated };
}

function list(deps: FunctionUrlRoutesDeps, req: ApiRequest): ApiResponse {
  const { name } = parseFunctionRef(pathParam(req, 0));
  if (!exists(deps, name, undefined)) throw new StratusError('ResourceNotFound', 'Function does not exist');
  const all = deps.registry.urls.list(name);
  const maxItems = Math.min(Math.max(Number(req.query.get('MaxItems') ?? PAGE) || PAGE, 1), PAGE);
  const start = Number(req.query.get('Marker') ?? 0) || 0;
  const page = all.slice(start, start + maxItems);
  const FunctionUrlConfigs = page.map((c) => describe(deps, req, c));
  return { status: 200, body: start + maxItems < all.length ? { FunctionUrlConfigs, NextMarker: String(start + maxItems) } : { FunctionUrlConfigs } };
}

function describe(deps: FunctionUrlRoutesDeps, req: ApiRequest, config: FunctionUrlRecord): Record<string, unknown> {
  const { functionName: name, qualifier } = config;
  return functionUrlConfiguration(config, functionUrl(req.origin, deps.registry.accountId, name, qualifier), deps.registry.qualifiedArn(name, qualifier));
}

/** The function, or the alias, a URL belongs to; versions and $LATEST cannot have one. */
function target(req: ApiRequest): { name: string; qualifier?: string } {
  const ref = parseFunctionRef(pathParam(req, 0));
  const qualifier = qualifierOf(ref, req.query);
  if (qualifier !== undefined && !QUALIFIER.test(qualifier)) {
    throw new StratusError('Validation', `1 validation error detected: Value '${qualifier}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ${QUALIFIER_TEXT}`);
  }
  return { name: ref.name, qualifier };
}

function exists(deps: FunctionUrlRoutesDeps, name: string, qualifier: string | undefined): boolean {
  if (!deps.registry.has(name)) return false;
  return qualifier === undefined || deps.registry.aliases.get(name, qualifier) !== undefined;
}

function readConfig(req: ApiRequest, isCreate: boolean): FunctionUrlPatch {
  const v = new Validator(parseJsonObject(req.body));
  const authType = v.string('AuthType', 'authType', { required: isCreate, enum: AUTH_TYPES });
  const invokeMode = v.string('InvokeMode', 'invokeMode', { enum: INVOKE_MODES });
  const corsBody = v.object('Cors', 'cors');
  v.done();
  const cors = corsBody ? readCors(corsBody) : undefined;
  return { authType: authType as FunctionUrlRecord['authType'] | undefined, invokeMode: invokeMode as FunctionUrlRecord['invokeMode'] | undefined, cors };
}

function readCors(body: Record<string, unknown>): UrlCors {
  const v = new Validator(body);
  const cors: UrlCors = {
    AllowCredentials: v.boolean('AllowCredentials', 'cors.allowCredentials'),
    AllowHeaders: v.stringList('AllowHeaders', 'cors.allowHeaders', 100),
    AllowMethods: v.stringList('AllowMethods', 'cors.allowMethods', 6),
    AllowOrigins: v.stringList('AllowOrigins', 'cors.allowOrigins', 100),
    ExposeHeaders: v.stringList('ExposeHeaders', 'cors.exposeHeaders', 100),
    MaxAge: v.integer('MaxAge', 'cors.maxAge', 0, 86400),
  };
  v.done();
  return Object.fromEntries(Object.entries(cors).filter(([, value]) => value !== undefined)) as UrlCors;
}
