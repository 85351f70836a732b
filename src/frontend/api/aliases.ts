import type { AliasInput, FunctionRegistry } from '../../registry/index.js';
import { StratusError } from '../../shared/errors.js';
import { type ApiRequest, type ApiResponse, parseFunctionRef, parseJsonObject, type Route, Validator, pathParam } from '../http/index.js';
import { aliasConfiguration } from './shapes.js';

export interface AliasRoutesDeps {
  registry: FunctionRegistry;
}

const ALIASES = /^\/2015-03-31\/functions\/([^/]+)\/aliases\/?$/;
const ALIAS = /^\/2015-03-31\/functions\/([^/]+)\/aliases\/([^/]+)\/?$/;
const ALIAS_NAME = /^(?!^[0-9]+$)([a-zA-Z0-9-_]+)$/;
const ALIAS_NAME_TEXT = '(?!^[0-9]+$)([a-zA-Z0-9-_]+)';
const VERSION = /^(\$LATEST|[0-9]+)$/;
const PAGE = 50;

/** CreateAlias, GetAlias, ListAliases, UpdateAlias, DeleteAlias (registry/aliases.ts keeps them). */
export function aliasRoutes(deps: AliasRoutesDeps): Route[] {
  const limits = { body: 1024 * 1024, tooLargeMessage: 'Request must be smaller than 1048576 bytes for the alias operation', sigv4: true };
  const { registry } = deps;
  const arn = (name: string, alias: string) => registry.qualifiedArn(name, alias);
  return [
    { method: 'POST', pattern: ALIASES, ...limits, handle: async (req) => {
      const name = functionName(req);
      const { aliasName, input } = readAlias(req, true);
      const alias = await registry.aliases.create(name, aliasName ?? '', input);
      return { status: 201, body: aliasConfiguration(alias, arn(name, alias.name)) };
    } },
    { method: 'GET', pattern: ALIASES, ...limits, handle: (req) => list(deps, req) },
    { method: 'GET', pattern: ALIAS, ...limits, handle: (req) => {
      const { name, aliasName } = aliasPath(req);
      registry.get(name);
      return { status: 200, body: aliasConfiguration(registry.aliases.require(name, aliasName), arn(name, aliasName)) };
    } },
    { method: 'PUT', pattern: ALIAS, ...limits, handle: async (req) => {
      const { name, aliasName } = aliasPath(req);
      const { input, revisionId } = readAlias(req, false);
      registry.get(name);
      const alias = await registry.aliases.update(name, aliasName, input, revisionId);
      return { status: 200, body: aliasConfiguration(alias, arn(name, aliasName)) };
    } },
    { method: 'DELETE', pattern: ALIAS, ...limits, handle: async (req) => {
      const { name, aliasName } = aliasPath(req);
      await registry.deleteAlias(name, aliasName);
      return { status: 204 };
    } },
  ];
}

function functionName(req: ApiRequest): string {
  return parseFunctionRef(pathParam(req, 0)).name;
}

function aliasPath(req: ApiRequest): { name: string; aliasName: string } {
  const aliasName = pathParam(req, 1);
  const v = new Validator({ Name: aliasName });
  v.string('Name', 'name', { min: 1, max: 128, pattern: ALIAS_NAME, patternText: ALIAS_NAME_TEXT });
  v.done();
  return { name: functionName(req), aliasName };
}

/** The CreateAlias / UpdateAlias body; on update, what is absent stays as it is. */
function readAlias(req: ApiRequest, isCreate: boolean): { aliasName?: string; input: AliasInput; revisionId?: string } {
  const body = parseJsonObject(req.body);
  const v = new Validator(body);
  const aliasName = isCreate ? v.string('Name', 'name', { required: true, min: 1, max: 128, pattern: ALIAS_NAME, patternText: ALIAS_NAME_TEXT }) : undefined;
  const functionVersion = v.string('FunctionVersion', 'functionVersion', { required: isCreate, min: 1, max: 1024, pattern: VERSION, patternText: '(\\$LATEST|[0-9]+)' });
  const description = v.string('Description', 'description', { max: 256 });
  const revisionId = isCreate ? undefined : v.string('RevisionId', 'revisionId');
  const routing = v.object('RoutingConfig', 'routingConfig');
  const weights = routing ? readWeights(v, routing.AdditionalVersionWeights) : undefined;
  v.done();
  return { aliasName, input: { functionVersion, description, additionalVersionWeights: weights }, revisionId };
}

/** RoutingConfig.AdditionalVersionWeights, checked with Lambda's (Java-flavoured) messages. */
function readWeights(v: Validator, value: unknown): Record<string, number> | undefined {
  const field = 'routingConfig.additionalVersionWeights';
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) return v.reject(value, field, 'Member must be a map');
  const entries = Object.entries(value as Record<string, unknown>);
  const shown = `{${entries.map(([k, w]) => `${k}=${typeof w === 'number' && Number.isInteger(w) ? `${w}.0` : String(w)}`).join(', ')}}`;
  if (entries.some(([k]) => !/^[0-9]+$/.test(k) || k.length > 1024)) {
    return v.reject(shown, field, 'Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]');
  }
  if (entries.some(([, w]) => typeof w !== 'number' || w < 0 || w > 1)) {
    return v.reject(shown, field, 'Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]');
  }
  return Object.fromEntries(entries) as Record<string, number>;
}

/** ListAliases: by name, optionally only those whose primary version is ?FunctionVersion=. */
function list(deps: AliasRoutesDeps, req: ApiRequest): ApiResponse {
  const name = functionName(req);
  deps.registry.get(name);
  const version = req.query.get('FunctionVersion') ?? undefined;
  if (version !== undefined && !VERSION.test(version)) {
    throw new StratusError('Validation', `1 validation error detected: Value '${version}' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)`);
  }
  const all = deps.registry.aliases.list(name, version);
  const maxItems = Math.min(Math.max(Number(req.query.get('MaxItems') ?? PAGE) || PAGE, 1), PAGE);
  const marker = req.query.get('Marker');
  const start = marker ? all.findIndex((a) => a.name > marker) : 0;
  const page = start < 0 ? [] : all.slice(start, start + maxItems);
  const more = start >= 0 && start + maxItems < all.length;
  const Aliases = page.map((a) => aliasConfiguration(a, deps.registry.qualifiedArn(name, a.name)));
  return { status: 200, body: more ? { Aliases, NextMarker: page.at(-1)?.name } : { Aliases } };
}
