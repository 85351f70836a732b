import type { FunctionRegistry } from '../../registry/index.js';
import { StratusError } from '../../shared/errors.js';
import { type ApiRequest, parseJsonObject, type Route, Validator, pathParam } from '../http/index.js';

export interface TagRoutesDeps {
  registry: FunctionRegistry;
}

const TAGS = /^\/2017-03-31\/tags\/([^/]+)\/?$/;
const FUNCTION_ARN = /^arn:aws[a-zA-Z-]*:lambda:[a-z]{2}(?:-gov)?-[a-z]+-\d:\d{12}:function:([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?$/;
const RESOURCE_PATTERN = 'arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)';

/**
 * TagResource, UntagResource and ListTags on functions. Tags are function-wide; a change retires
 * the function's environments (tags may change how its sandboxes are built).
 */
export function tagRoutes(deps: TagRoutesDeps): Route[] {
  const limits = { body: 1024 * 1024, tooLargeMessage: 'Request must be smaller than 1048576 bytes for the tag operation', sigv4: true };
  const { registry } = deps;
  return [
    { method: 'GET', pattern: TAGS, ...limits, handle: (req) => ({ status: 200, body: { Tags: registry.get(functionOf(req)).tags ?? {} } }) },
    { method: 'POST', pattern: TAGS, ...limits, handle: async (req) => {
      const name = functionOf(req);
      const v = new Validator(parseJsonObject(req.body));
      const tags = v.tagMap('Tags', 'tags');
      if (tags === undefined) v.reject(undefined, 'tags', 'Member must not be null');
      v.done();
      registry.get(name);
      if (!tags || Object.keys(tags).length === 0) throw new StratusError('InvalidParameterValue', 'An error occurred and the request cannot be processed.');
      await registry.tag(name, tags);
      return { status: 204 };
    } },
    { method: 'DELETE', pattern: TAGS, ...limits, handle: async (req) => {
      const name = functionOf(req);
      const keys = req.query.getAll('tagKeys');
      if (keys.length === 0) {
        throw new StratusError('Validation', "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null");
      }
      await registry.untag(name, keys);
      return { status: 204 };
    } },
  ];
}

/** The function a tag request names: a full, unqualified function ARN. */
function functionOf(req: ApiRequest): string {
  const arn = pathParam(req, 0);
  const match = FUNCTION_ARN.exec(arn);
  if (!match?.[1]) {
    throw new StratusError('Validation', `1 validation error detected: Value '${arn}' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: ${RESOURCE_PATTERN}`);
  }
  if (match[2]) throw new StratusError('InvalidParameterValue', 'Tags on function aliases and versions are not supported. Please specify a function ARN.');
  return match[1];
}
