import { randomUUID } from 'node:crypto';
import { StratusError } from '../shared/errors.js';
import type { StringRule } from '../shared/validation.js';

/**
 * Resource-based policies (AddPermission, GetPolicy, RemovePermission), as Lambda keeps them: one
 * policy per function ('$LATEST' key: the unqualified ARN, which $LATEST shares), per published
 * version and per alias; a published version does not inherit the function's. Statements are
 * stored in the shape GetPolicy returns them, so rendering is JSON.stringify and the evaluator
 * reads what the user sees.
 */

/** `"*"`, an account (`{"AWS": "arn:aws:iam::123456789012:root"}`) or a service (`{"Service": "s3.amazonaws.com"}`). */
export type PolicyPrincipal = '*' | { AWS: string } | { Service: string };

/** Condition operator -> condition key -> value, e.g. `{"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::b"}}`. */
export type PolicyCondition = Record<string, Record<string, string>>;

/** One statement, its keys in Lambda's order (Sid, Effect, Principal, Action, Resource, Condition). */
export interface PolicyStatement {
  Sid: string;
  /** AddPermission only ever writes Allow; the evaluator lets a Deny win all the same. */
  Effect: 'Allow' | 'Deny';
  Principal: PolicyPrincipal;
  Action: string;
  /** The function ARN, qualified for a version's or an alias's policy. */
  Resource: string;
  Condition?: PolicyCondition;
}

/** A qualifier's policy with its RevisionId (a new one on every change). */
export interface FunctionPolicy {
  revisionId: string;
  statements: PolicyStatement[];
}

/** The key of the function-wide policy among a function's policies. */
export const FUNCTION_POLICY = '$LATEST';

/** PolicyLengthExceededException beyond this many bytes of policy JSON. */
export const POLICY_SIZE_LIMIT = 20480;

/** AddPermission's input once its fields have Lambda's syntax (see PERMISSION_FIELDS). */
export interface PermissionInput {
  statementId: string;
  action: string;
  principal: string;
  sourceArn?: string;
  sourceAccount?: string;
  eventSourceToken?: string;
  principalOrgId?: string;
  functionUrlAuthType?: 'NONE' | 'AWS_IAM';
  invokedViaFunctionUrl?: boolean;
}

/** A field's wire constraints, reported as ValidationException ("Member must satisfy ..."). */
export interface FieldRule extends StringRule {
  key: string;
  field: string;
}

const rule = (key: string, field: string, text: string | undefined, extra: Omit<FieldRule, 'key' | 'field'> = {}): FieldRule =>
  ({ key, field, ...extra, ...(text === undefined ? {} : { pattern: new RegExp(`^(?:${text})$`), patternText: text }) });

/** AddPermission's members with Lambda's constraints (patterns as Lambda prints them). */
export const PERMISSION_FIELDS: readonly FieldRule[] = [
  rule('StatementId', 'statementId', '([a-zA-Z0-9-_]+)', { required: true, min: 1, max: 100 }),
  rule('Action', 'action', '(lambda:[*]|lambda:[a-zA-Z]+|[*])', { required: true }),
  rule('Principal', 'principal', '[^\\s]+', { required: true }),
  rule('SourceArn', 'sourceArn', 'arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)'),
  rule('SourceAccount', 'sourceAccount', '\\d{12}', { max: 12 }),
  rule('EventSourceToken', 'eventSourceToken', '[a-zA-Z0-9._\\-]+', { max: 256 }),
  rule('PrincipalOrgID', 'principalOrgID', 'o-[a-z0-9]{10,32}', { min: 12, max: 34 }),
  rule('FunctionUrlAuthType', 'functionUrlAuthType', undefined, { enum: ['NONE', 'AWS_IAM'] }),
  rule('RevisionId', 'revisionId', undefined),
];

/** The Qualifier of all three operations (a query parameter). */
export const POLICY_QUALIFIER: FieldRule = rule('Qualifier', 'qualifier', '\\$(LATEST(\\.PUBLISHED)?)|[a-zA-Z0-9-_$]+', { min: 1, max: 128 });

/** RemovePermission's StatementId (a path parameter; it allows dots, AddPermission does not). */
export const REMOVE_STATEMENT_ID: FieldRule = rule('StatementId', 'statementId', '([a-zA-Z0-9-_.]+)', { required: true, min: 1, max: 100 });

/** The policy key of a qualifier: none or $LATEST is the function-wide policy. */
export function policyKey(qualifier: string | undefined): string {
  return qualifier ?? FUNCTION_POLICY;
}

/**
 * A principal as Lambda writes it. Stratus callers are account roots: an IAM user or role ARN
 * names nothing that exists here, so it is refused as Lambda refuses a principal it cannot find.
 */
export function principalOf(principal: string): PolicyPrincipal {
  if (principal === '*') return '*';
  if (/^\d{12}$/.test(principal)) return { AWS: `arn:aws:iam::${principal}:root` };
  if (/^arn:aws:iam::\d{12}:root$/.test(principal)) return { AWS: principal };
  if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.amazon(aws)?\.com$/.test(principal)) return { Service: principal };
  throw new StratusError('InvalidParameterValue', 'The provided principal was invalid. Please check the principal and try again.');
}

/** The statement AddPermission adds; its Condition keys in Lambda's order. */
export function buildStatement(input: PermissionInput, resourceArn: string): PolicyStatement {
  if (input.functionUrlAuthType !== undefined && input.action !== 'lambda:InvokeFunctionUrl') {
    throw new StratusError('InvalidParameterValue', 'FunctionUrlAuthType is only supported for lambda:InvokeFunctionUrl action');
  }
  if (input.invokedViaFunctionUrl !== undefined && input.action !== 'lambda:InvokeFunction') {
    throw new StratusError('InvalidParameterValue', 'InvokedViaFunctionUrl is only supported for lambda:InvokeFunction action');
  }
  const statement: PolicyStatement = { Sid: input.statementId, Effect: 'Allow', Principal: principalOf(input.principal), Action: input.action, Resource: resourceArn };
  const equals: Record<string, string> = {};
  if (input.sourceAccount !== undefined) equals['AWS:SourceAccount'] = input.sourceAccount;
  if (input.functionUrlAuthType !== undefined) equals['lambda:FunctionUrlAuthType'] = input.functionUrlAuthType;
  if (input.principalOrgId !== undefined) equals['aws:PrincipalOrgID'] = input.principalOrgId;
  if (input.eventSourceToken !== undefined) equals['lambda:EventSourceToken'] = input.eventSourceToken;
  const condition: PolicyCondition = {};
  if (Object.keys(equals).length > 0) condition.StringEquals = equals;
  if (input.sourceArn !== undefined) condition.ArnLike = { 'AWS:SourceArn': input.sourceArn };
  if (input.invokedViaFunctionUrl === true) condition.Bool = { 'lambda:InvokedViaFunctionUrl': 'true' };
  if (Object.keys(condition).length > 0) statement.Condition = condition;
  return statement;
}

/**
 * AddPermission on a qualifier's policy (undefined: none yet), checked in Lambda's order: the
 * RevisionId, a statement id already there, the principal and conditions, the policy's size.
 */
export function addPermission(current: FunctionPolicy | undefined, input: PermissionInput, resourceArn: string, expectedRevisionId?: string): FunctionPolicy {
  checkPolicyRevision(current, expectedRevisionId);
  if (current?.statements.some((s) => s.Sid === input.statementId)) {
    throw new StratusError('ResourceConflict', `The statement id (${input.statementId}) provided already exists. Please provide a new statement id, or remove the existing statement.`);
  }
  const next: FunctionPolicy = { revisionId: randomUUID(), statements: [...(current?.statements ?? []), buildStatement(input, resourceArn)] };
  const size = Buffer.byteLength(policyDocument(next));
  if (size > POLICY_SIZE_LIMIT) {
    throw new StratusError('PolicyLengthExceeded', `The final policy size (${size}) is bigger than the limit (${POLICY_SIZE_LIMIT}).`);
  }
  return next;
}

/** RemovePermission: undefined once the last statement is gone (GetPolicy then finds no policy). */
export function removePermission(current: FunctionPolicy | undefined, statementId: string, expectedRevisionId?: string): FunctionPolicy | undefined {
  if (!current) throw new StratusError('ResourceNotFound', 'No policy is associated with the given resource.');
  if (!current.statements.some((s) => s.Sid === statementId)) {
    throw new StratusError('ResourceNotFound', `Statement ${statementId} is not found in resource policy.`);
  }
  checkPolicyRevision(current, expectedRevisionId);
  const statements = current.statements.filter((s) => s.Sid !== statementId);
  return statements.length > 0 ? { revisionId: randomUUID(), statements } : undefined;
}

function checkPolicyRevision(current: FunctionPolicy | undefined, expected: string | undefined): void {
  if (expected !== undefined && expected !== current?.revisionId) {
    throw new StratusError('PreconditionFailed', 'The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id');
  }
}

/** GetPolicy's Policy string. */
export function policyDocument(policy: FunctionPolicy): string {
  return JSON.stringify({ Version: '2012-10-17', Id: 'default', Statement: policy.statements });
}

/** A record with one qualifier's policy set (or, undefined, removed); no policies left drops the field. */
export function withPolicy<T extends { policies?: Record<string, FunctionPolicy> }>(record: T, key: string, policy: FunctionPolicy | undefined): T {
  const { policies, ...rest } = record;
  const next = { ...policies };
  if (policy === undefined) delete next[key];
  else next[key] = policy;
  return (Object.keys(next).length > 0 ? { ...rest, policies: next } : rest) as T;
}

/** A version or alias that a policy operation names does not exist (Lambda's words for each). */
export function policyTargetNotFound(qualifiedArn: string, isAlias: boolean): StratusError {
  return new StratusError('ResourceNotFound', isAlias ? `Cannot find alias arn: ${qualifiedArn}` : `Function not found: ${qualifiedArn}`);
}

/** One request to authorize against a resource policy (see policyAllows). */
export interface PolicyRequest {
  /** The calling account (its root); undefined for an anonymous caller (a NONE function URL). */
  callerAccountId?: string;
  /** e.g. lambda:InvokeFunction, lambda:InvokeFunctionUrl, lambda:GetFunction. */
  action: string;
  /** The function ARN as the caller named it: unqualified, `:$LATEST`, `:<version>` or `:<alias>`. */
  resourceArn: string;
  /** lambda:FunctionUrlAuthType: the URL's auth type, for a request through a function URL. */
  functionUrlAuthType?: 'NONE' | 'AWS_IAM';
  /** lambda:InvokedViaFunctionUrl: the invoke arrives through a function URL. */
  invokedViaFunctionUrl?: boolean;
  /** AWS:SourceArn and AWS:SourceAccount, when a service acts for a resource. */
  sourceArn?: string;
  sourceAccount?: string;
}

/**
 * Whether `statements` allow `request`, with IAM's logic: some statement applies and allows, and
 * none that applies denies. A statement applies when its principal, action, resource and every
 * condition match. Resources are scoped as in Lambda: the function-wide policy's statements name
 * the unqualified ARN and apply to unqualified and $LATEST requests only; a version's or alias's
 * name that qualifier only. A service principal never matches an account, and a condition key
 * Stratus never sets (aws:PrincipalOrgID, lambda:EventSourceToken), an unknown key or an unknown
 * operator never holds, so such a statement grants nothing.
 */
export function policyAllows(statements: readonly PolicyStatement[], request: PolicyRequest): boolean {
  const applying = statements.filter((s) => applies(s, request));
  return applying.some((s) => s.Effect === 'Allow') && !applying.some((s) => s.Effect === 'Deny');
}

function applies(s: PolicyStatement, request: PolicyRequest): boolean {
  return principalMatches(s.Principal, request.callerAccountId) && actionMatches(s.Action, request.action)
    && resourceMatches(s.Resource, request.resourceArn) && conditionsHold(s.Condition, request);
}

function principalMatches(principal: unknown, account: string | undefined): boolean {
  if (principal === '*') return true;
  if (account === undefined || typeof principal !== 'object' || principal === null || !('AWS' in principal)) return false;
  return values(principal.AWS).some((p) => p === '*' || p === account || p === `arn:aws:iam::${account}:root`);
}

function actionMatches(action: unknown, requested: string): boolean {
  const wanted = requested.toLowerCase();
  return values(action).some((a) => a === '*' || a.toLowerCase() === 'lambda:*' || a.toLowerCase() === wanted);
}

/** `:$LATEST` names the same resource as the unqualified ARN. */
function resourceMatches(resource: unknown, arn: string): boolean {
  const unlatest = (a: string) => (a.endsWith(':$LATEST') ? a.slice(0, -':$LATEST'.length) : a);
  return values(resource).some((r) => unlatest(r) === unlatest(arn));
}

function conditionsHold(condition: unknown, request: PolicyRequest): boolean {
  if (condition === undefined) return true;
  if (typeof condition !== 'object' || condition === null) return false;
  return Object.entries(condition).every(([operator, block]) => {
    if (typeof block !== 'object' || block === null) return false;
    return Object.entries(block as Record<string, unknown>).every(([key, expected]) => {
      const actual = contextValue(key.toLowerCase(), request);
      if (actual === undefined) return false;
      if (operator === 'StringEquals') return values(expected).includes(actual);
      if (operator === 'ArnLike') return values(expected).some((pattern) => arnLike(pattern, actual));
      if (operator === 'Bool') return values(expected).some((v) => v.toLowerCase() === actual);
      return false;
    });
  });
}

/** The request's value of a condition key (lower case); undefined: the request does not have it. */
function contextValue(key: string, r: PolicyRequest): string | undefined {
  switch (key) {
    case 'aws:sourcearn': return r.sourceArn;
    case 'aws:sourceaccount': return r.sourceAccount;
    case 'lambda:functionurlauthtype': return r.functionUrlAuthType;
    case 'lambda:invokedviafunctionurl': return r.invokedViaFunctionUrl === undefined ? undefined : String(r.invokedViaFunctionUrl);
    default: return undefined;
  }
}

/** IAM's ArnLike: the six parts of an ARN compared one by one, `*` and `?` as wildcards in each. */
function arnLike(pattern: string, arn: string): boolean {
  const parts = (a: string): string[] | undefined => {
    const split = a.split(':');
    return split.length < 6 ? undefined : [...split.slice(0, 5), split.slice(5).join(':')];
  };
  const want = parts(pattern);
  const got = parts(arn);
  if (!want || !got) return false;
  return want.every((p, i) => globToRegExp(p).test(got[i] ?? ''));
}

function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 's');
}

/** A policy element's values: a string or a list of strings (anything else: none). */
function values(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
