import {
  addPermission, PERMISSION_FIELDS, policyDocument, policyKey, POLICY_QUALIFIER, REMOVE_STATEMENT_ID, removePermission,
  type FieldRule, type FunctionRegistry, type PermissionInput,
} from '../../registry/index.js';
import { StratusError } from '../../shared/errors.js';
import { type ApiRequest, parseFunctionRef, parseJsonObject, qualifierOf, type Route, Validator, pathParam } from '../http/index.js';

export interface PermissionRoutesDeps {
  registry: FunctionRegistry;
}

const POLICY = /^\/2015-03-31\/functions\/([^/]+)\/policy\/?$/;
const STATEMENT = /^\/2015-03-31\/functions\/([^/]+)\/policy\/([^/]+)\/?$/;
const SMALL = { body: 1024 * 1024, tooLargeMessage: 'Request must be smaller than 1048576 bytes', sigv4: true } as const;

/** AddPermission, GetPolicy, RemovePermission: a function's, version's or alias's resource policy (registry/policies.ts). */
export function permissionRoutes(deps: PermissionRoutesDeps): Route[] {
  const { registry } = deps;
  return [
    { method: 'POST', pattern: POLICY, ...SMALL, handle: async (req) => {
      const { input, revisionId } = readPermission(req);
      const { name, qualifier } = target(req);
      if (qualifier === '$LATEST') throw new StratusError('InvalidParameterValue', 'We currently do not support adding policies for $LATEST.');
      const resource = registry.qualifiedArn(name, qualifier);
      const policy = await registry.updatePolicy(name, policyKey(qualifier), (current) => addPermission(current, input, resource, revisionId));
      return { status: 201, body: { Statement: JSON.stringify(policy?.statements.at(-1)) } };
    } },
    { method: 'GET', pattern: POLICY, ...SMALL, handle: (req) => {
      const v = new Validator(queryMembers(req));
      check(v, POLICY_QUALIFIER);
      v.done();
      const { name, qualifier } = target(req);
      const policy = registry.find(name)?.policies?.[policyKey(qualifier)];
      if (!policy) throw new StratusError('ResourceNotFound', 'The resource you requested does not exist.');
      return { status: 200, body: { Policy: policyDocument(policy), RevisionId: policy.revisionId } };
    } },
    { method: 'DELETE', pattern: STATEMENT, ...SMALL, handle: async (req) => {
      const statementId = pathParam(req, 1);
      const v = new Validator({ ...queryMembers(req), StatementId: statementId });
      check(v, REMOVE_STATEMENT_ID);
      check(v, POLICY_QUALIFIER);
      v.done();
      const { name, qualifier } = target(req);
      if (!registry.has(name)) throw new StratusError('ResourceNotFound', `No policy found for: ${registry.functionArn(name)}`);
      const revisionId = req.query.get('RevisionId') ?? undefined;
      await registry.updatePolicy(name, policyKey(qualifier), (current) => removePermission(current, statementId, revisionId));
      return { status: 204 };
    } },
  ];
}

/** The function and qualifier (in the path or ?Qualifier=, which must agree) a request names. */
function target(req: ApiRequest): { name: string; qualifier?: string } {
  const ref = parseFunctionRef(pathParam(req, 0));
  return { name: ref.name, qualifier: qualifierOf(ref, req.query) };
}

/** The query members of all three operations, for their Validator. */
function queryMembers(req: ApiRequest): Record<string, unknown> {
  return { Qualifier: req.query.get('Qualifier') ?? undefined };
}

function check(v: Validator, rule: FieldRule): string | undefined {
  return v.string(rule.key, rule.field, rule);
}

/** AddPermission's body, every member checked against Lambda's constraints at once. */
function readPermission(req: ApiRequest): { input: PermissionInput; revisionId?: string } {
  const body = parseJsonObject(req.body);
  const v = new Validator({ ...body, ...queryMembers(req) });
  const value: Record<string, string | undefined> = {};
  for (const rule of [...PERMISSION_FIELDS, POLICY_QUALIFIER]) value[rule.key] = check(v, rule);
  const invokedViaFunctionUrl = v.boolean('InvokedViaFunctionUrl', 'invokedViaFunctionUrl');
  v.done();
  const input: PermissionInput = {
    statementId: value.StatementId ?? '', action: value.Action ?? '', principal: value.Principal ?? '',
    sourceArn: value.SourceArn, sourceAccount: value.SourceAccount, eventSourceToken: value.EventSourceToken, principalOrgId: value.PrincipalOrgID,
    functionUrlAuthType: value.FunctionUrlAuthType as PermissionInput['functionUrlAuthType'], invokedViaFunctionUrl,
  };
  return { input, revisionId: value.RevisionId };
}

