import type { FunctionRegistry } from '../../registry/index.js';
import { type ApiRequest, type ApiResponse, parseFunctionRef, parseJsonObject, type Route, Validator, pathParam } from '../http/index.js';
import { PUBLISH_TO, refuseUnsupported, unqualifiedName } from './strict.js';
import { functionConfiguration, listItem } from './shapes.js';

export interface VersionRoutesDeps {
  registry: FunctionRegistry;
  region: string;
}

const VERSIONS = /^\/2015-03-31\/functions\/([^/]+)\/versions\/?$/;
const PAGE = 50;

/** PublishVersion and ListVersionsByFunction (the registry module of the same name keeps them). */
export function versionRoutes(deps: VersionRoutesDeps): Route[] {
  const limits = { body: 1024 * 1024, tooLargeMessage: 'Request must be smaller than 1048576 bytes for the PublishVersion operation', sigv4: true };
  return [
    { method: 'POST', pattern: VERSIONS, ...limits, handle: (req) => publish(deps, req) },
    { method: 'GET', pattern: VERSIONS, ...limits, handle: (req) => list(deps, req) },
  ];
}

async function publish(deps: VersionRoutesDeps, req: ApiRequest): Promise<ApiResponse> {
  const name = unqualifiedName(req);
  const body = parseJsonObject(req.body);
  const v = new Validator(body);
  const codeSha256 = v.string('CodeSha256', 'codeSha256');
  const description = v.string('Description', 'description', { max: 256 });
  const revisionId = v.string('RevisionId', 'revisionId');
  v.done();
  refuseUnsupported(body, [PUBLISH_TO]);
  const version = await deps.registry.publish(name, { codeSha256, description, revisionId });
  return { status: 201, body: functionConfiguration(version, deps.registry.qualifiedArn(name, version.version), deps.region) };
}

/** $LATEST (under its qualified ARN) first, then the versions in order; Marker is a version. */
function list(deps: VersionRoutesDeps, req: ApiRequest): ApiResponse {
  const { name } = parseFunctionRef(pathParam(req, 0));
  const { registry } = deps;
  const latest = registry.get(name);
  const all = [
    functionConfiguration(latest, registry.qualifiedArn(name, '$LATEST'), deps.region),
    ...registry.versions.list(name).map((v) => functionConfiguration(v, registry.qualifiedArn(name, v.version), deps.region)),
  ].map(listItem);
  const maxItems = Math.min(Math.max(Number(req.query.get('MaxItems') ?? PAGE) || PAGE, 1), PAGE);
  const marker = req.query.get('Marker');
  const start = marker ? all.findIndex((c) => c.Version === marker) + 1 : 0;
  const page = all.slice(start, start + maxItems);
  const more = start + maxItems < all.length;
  return { status: 200, body: more ? { Versions: page, NextMarker: page.at(-1)?.Version } : { Versions: page } };
}
