import { randomUUID } from 'node:crypto';
import { StratusError } from '../shared/errors.js';
import { GET_LAYER_VERSION, type LayerPolicy, type LayerStatement } from './model.js';

/** A layer version's policy stays within Lambda's 20 KB for resource policies. */
const MAX_POLICY_BYTES = 20_480;

/** Whether `policy` lets `accountId` use the layer version (GetLayerVersion, and so a function's Layers). */
export function layerAllows(policy: LayerPolicy | undefined, accountId: string): boolean {
  // An organization condition never holds: Stratus has no organizations.
  return (policy?.statements ?? []).some((s) => s.organizationId === undefined && (s.principal === '*' || s.principal === accountId));
}

/** The principal as the policy document shows it: `*`, or the account's root. */
function principalOf(s: LayerStatement): unknown {
  return s.principal === '*' ? '*' : { AWS: `arn:aws:iam::${s.principal}:root` };
}

export function statementDocument(s: LayerStatement, resource: string): Record<string, unknown> {
  return {
    Sid: s.sid, Effect: 'Allow', Principal: principalOf(s), Action: GET_LAYER_VERSION, Resource: resource,
    ...(s.organizationId ? { Condition: { StringEquals: { 'aws:PrincipalOrgID': s.organizationId } } } : {}),
  };
}

export function policyDocument(policy: LayerPolicy, resource: string): string {
  return JSON.stringify({ Version: '2012-10-17', Id: 'default', Statement: policy.statements.map((s) => statementDocument(s, resource)) });
}

/** An account id given as `arn:aws:iam::<id>:root` is that account. */
export function normalPrincipal(principal: string): string {
  const root = /^arn:aws[a-zA-Z-]*:iam::(\d{12}):root$/.exec(principal);
  return root?.[1] ?? principal;
}

function checkRevision(policy: LayerPolicy | undefined, expected: string | undefined): void {
  if (expected !== undefined && expected !== policy?.revisionId) {
    throw new StratusError('PreconditionFailed', 'The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id');
  }
}

/** AddLayerVersionPermission: the policy with one more statement (a refused one changes nothing). */
export function withStatement(policy: LayerPolicy | undefined, statement: LayerStatement, resource: string, expectedRevision?: string): LayerPolicy {
  if (policy?.statements.some((s) => s.sid === statement.sid)) {
    throw new StratusError('ResourceConflict', `The statement id (${statement.sid}) provided already exists. Please provide a new statement id, or remove the existing statement.`);
  }
  checkRevision(policy, expectedRevision);
  const next = { revisionId: randomUUID(), statements: [...(policy?.statements ?? []), statement] };
  const size = Buffer.byteLength(policyDocument(next, resource));
  if (size > MAX_POLICY_BYTES) throw new StratusError('PolicyLengthExceeded', `The final policy size (${size}) is bigger than the limit (${MAX_POLICY_BYTES}).`);
  return next;
}

/** RemoveLayerVersionPermission: the policy without statement `sid`. */
export function withoutStatement(policy: LayerPolicy | undefined, sid: string, expectedRevision?: string): LayerPolicy {
  checkRevision(policy, expectedRevision);
  if (!policy?.statements.some((s) => s.sid === sid)) throw new StratusError('ResourceNotFound', `Statement ${sid} is not found in resource policy.`);
  return { revisionId: randomUUID(), statements: policy.statements.filter((s) => s.sid !== sid) };
}
