// Resource policies: AddPermission's checks and statements in Lambda's words and shapes, the
// evaluator the invoke paths rely on (principals, actions, qualifier scoping, conditions), and
// their storage per qualifier in the registry's function document.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryCodeStore } from '../codestore/index.js';
import { MemoryJournal } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { makeZip } from '../../test/helpers/zip.js';
import { FunctionRegistry } from './functions.js';
import {
  addPermission, buildStatement, PERMISSION_FIELDS, policyAllows, policyDocument, principalOf, removePermission,
  type FunctionPolicy, type PermissionInput, type PolicyRequest, type PolicyStatement,
} from './policies.js';

const FN = 'arn:aws:lambda:us-east-1:000000000000:function:f';
const OWNER = '000000000000';
const OTHER = '111122223333';
const THIRD = '444455556666';

function input(extra: Partial<PermissionInput> = {}): PermissionInput {
  return { statementId: 's1', action: 'lambda:InvokeFunction', principal: OTHER, ...extra };
}

function throwsCode(fn: () => unknown, code: string, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof StratusError, String(err));
    assert.equal(err.code, code);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

const INVALID_PRINCIPAL = 'The provided principal was invalid. Please check the principal and try again.';

describe('AddPermission: principals and statements as Lambda writes them', () => {
  it('renders an account as its root, keeps "*" and names a service', () => {
    assert.deepEqual(principalOf(OTHER), { AWS: `arn:aws:iam::${OTHER}:root` });
    assert.deepEqual(principalOf(`arn:aws:iam::${OTHER}:root`), { AWS: `arn:aws:iam::${OTHER}:root` });
    assert.equal(principalOf('*'), '*');
    assert.deepEqual(principalOf('s3.amazonaws.com'), { Service: 's3.amazonaws.com' });
    assert.deepEqual(principalOf('alexa-appkit.amazon.com'), { Service: 'alexa-appkit.amazon.com' });
  });

  it('refuses principals with a syntax error, and IAM users or roles (Stratus callers are account roots)', () => {
    for (const bad of ['invalid.nonaws.com', '12345678901', '1234567890123', 'arn:aws:iam::12345:root', `arn:aws:iam::${OTHER}:user/dev`,
      `arn:aws:iam::${OTHER}:role/r`, `arn:aws:sts::${OTHER}:assumed-role/r/s`, '**', 'amazonaws.com', '.s3.amazonaws.com', 'S3.AMAZONAWS.COM']) {
      throwsCode(() => principalOf(bad), 'InvalidParameterValue', INVALID_PRINCIPAL);
    }
  });

  it('writes Sid, Effect, Principal, Action, Resource and Condition in that order, conditions as Lambda groups them', () => {
    const s = buildStatement(input({
      statementId: 'url', action: 'lambda:InvokeFunctionUrl', principal: '*', sourceArn: 'arn:aws:s3:::b', sourceAccount: OTHER,
      principalOrgId: 'o-1234567890', functionUrlAuthType: 'NONE', eventSourceToken: 'tok',
    }), `${FN}:live`);
    assert.equal(JSON.stringify(s), JSON.stringify({
      Sid: 'url', Effect: 'Allow', Principal: '*', Action: 'lambda:InvokeFunctionUrl', Resource: `${FN}:live`,
      Condition: {
        StringEquals: { 'AWS:SourceAccount': OTHER, 'lambda:FunctionUrlAuthType': 'NONE', 'aws:PrincipalOrgID': 'o-1234567890', 'lambda:EventSourceToken': 'tok' },
        ArnLike: { 'AWS:SourceArn': 'arn:aws:s3:::b' },
      },
    }));
    assert.equal(JSON.stringify(buildStatement(input(), FN)),
      `{"Sid":"s1","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::${OTHER}:root"},"Action":"lambda:InvokeFunction","Resource":"${FN}"}`);
    assert.deepEqual(buildStatement(input({ invokedViaFunctionUrl: true }), FN).Condition, { Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } });
  });

  it('takes FunctionUrlAuthType only with lambda:InvokeFunctionUrl and InvokedViaFunctionUrl only with lambda:InvokeFunction', () => {
    for (const action of ['lambda:InvokeFunction', 'lambda:*', '*']) {
      throwsCode(() => buildStatement(input({ action, functionUrlAuthType: 'AWS_IAM' }), FN), 'InvalidParameterValue',
        'FunctionUrlAuthType is only supported for lambda:InvokeFunctionUrl action');
    }
    throwsCode(() => buildStatement(input({ action: 'lambda:InvokeFunctionUrl', invokedViaFunctionUrl: true }), FN), 'InvalidParameterValue',
      'InvokedViaFunctionUrl is only supported for lambda:InvokeFunction action');
  });

  it("states Lambda's patterns for the statement id and the action", () => {
    const pattern = (key: string) => PERMISSION_FIELDS.find((r) => r.key === key)?.pattern ?? /never/;
    for (const ok of ['s3', 'a-b_C9']) assert.ok(pattern('StatementId').test(ok), ok);
    for (const bad of ['example.com', 'a b', '']) assert.ok(!pattern('StatementId').test(bad), bad);
    for (const ok of ['lambda:InvokeFunction', 'lambda:*', '*']) assert.ok(pattern('Action').test(ok), ok);
    for (const bad of ['lambda:Invoke-Function', 'lambda:', 's3:GetObject', 'lambda:**', 'InvokeFunction']) assert.ok(!pattern('Action').test(bad), bad);
    assert.ok(!pattern('Principal').test('a b'));
    assert.ok(!pattern('SourceAccount').test('12345'));
  });
});

describe('AddPermission / RemovePermission on a policy', () => {
  const one = (): FunctionPolicy => addPermission(undefined, input(), FN);

  it('adds statements with a new RevisionId each time, and refuses a statement id already there', () => {
    const first = one();
    const second = addPermission(first, input({ statementId: 's2', principal: '*' }), FN, first.revisionId);
    assert.notEqual(second.revisionId, first.revisionId);
    assert.deepEqual(second.statements.map((s) => s.Sid), ['s1', 's2']);
    assert.deepEqual(first.statements.map((s) => s.Sid), ['s1'], 'the current policy is not changed in place');
    throwsCode(() => addPermission(second, input({ principal: '*' }), FN), 'ResourceConflict',
      'The statement id (s1) provided already exists. Please provide a new statement id, or remove the existing statement.');
  });

  it('checks the RevisionId (also when there is no policy yet)', () => {
    const message = 'The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id';
    throwsCode(() => addPermission(one(), input({ statementId: 's2' }), FN, 'wrong'), 'PreconditionFailed', message);
    throwsCode(() => addPermission(undefined, input(), FN, 'any'), 'PreconditionFailed', message);
    const p = one();
    throwsCode(() => removePermission(p, 's1', 'wrong'), 'PreconditionFailed', message);
    assert.equal(removePermission(p, 's1', p.revisionId), undefined);
  });

  it('refuses a policy over 20480 bytes with its size', () => {
    let policy: FunctionPolicy | undefined;
    let i = 0;
    const arn = `arn:aws:s3:::${'b'.repeat(1000)}`;
    try {
      for (; i < 100; i++) policy = addPermission(policy, input({ statementId: `s${i}`, sourceArn: arn }), FN);
      assert.fail('the policy grew without limit');
    } catch (err) {
      assert.ok(err instanceof StratusError && err.code === 'PolicyLengthExceeded', String(err));
      assert.match(err.message, /^The final policy size \((\d+)\) is bigger than the limit \(20480\)\.$/);
      assert.ok(Number(/\((\d+)\)/.exec(err.message)?.[1]) > 20480);
    }
    assert.ok(policy && Buffer.byteLength(policyDocument(policy)) <= 20480 && i > 10);
  });

  it('removes a statement; an unknown one or a missing policy is refused in Lambda words; the last one takes the policy', () => {
    const p = addPermission(one(), input({ statementId: 's2' }), FN);
    throwsCode(() => removePermission(undefined, 's1'), 'ResourceNotFound', 'No policy is associated with the given resource.');
    throwsCode(() => removePermission(p, 'nope'), 'ResourceNotFound', 'Statement nope is not found in resource policy.');
    const left = removePermission(p, 's1');
    assert.deepEqual(left?.statements.map((s) => s.Sid), ['s2']);
    assert.notEqual(left?.revisionId, p.revisionId);
    assert.equal(removePermission(left, 's2'), undefined);
  });

  it('renders the policy document as GetPolicy returns it', () => {
    const p = one();
    assert.equal(policyDocument(p), `{"Version":"2012-10-17","Id":"default","Statement":[${JSON.stringify(p.statements[0])}]}`);
  });
});

describe('policyAllows', () => {
  const invoke = (extra: Partial<PolicyRequest> = {}): PolicyRequest => ({ callerAccountId: OTHER, action: 'lambda:InvokeFunction', resourceArn: FN, ...extra });
  const stmt = (extra: Partial<PermissionInput> = {}, resource = FN): PolicyStatement => buildStatement(input(extra), resource);

  it('allows nothing without a statement', () => {
    assert.equal(policyAllows([], invoke()), false);
    assert.equal(policyAllows([], invoke({ callerAccountId: OWNER })), false);
  });

  it('matches an account principal (id or root ARN) to that account only; "*" to anyone, also anonymous', () => {
    for (const principal of [OTHER, `arn:aws:iam::${OTHER}:root`]) {
      assert.equal(policyAllows([stmt({ principal })], invoke()), true);
      assert.equal(policyAllows([stmt({ principal })], invoke({ callerAccountId: THIRD })), false);
      assert.equal(policyAllows([stmt({ principal })], invoke({ callerAccountId: undefined })), false);
    }
    assert.equal(policyAllows([stmt({ principal: '*' })], invoke({ callerAccountId: THIRD })), true);
    assert.equal(policyAllows([stmt({ principal: '*' })], invoke({ callerAccountId: undefined })), true);
  });

  it('never matches a service principal to an account caller', () => {
    const s = stmt({ principal: 's3.amazonaws.com' });
    for (const caller of [OTHER, OWNER, undefined]) assert.equal(policyAllows([s], invoke({ callerAccountId: caller })), false);
  });

  it('matches the action exactly (any case), or all of them with lambda:* and *', () => {
    assert.equal(policyAllows([stmt()], invoke({ action: 'lambda:InvokeFunctionUrl' })), false);
    assert.equal(policyAllows([stmt()], invoke({ action: 'lambda:GetFunction' })), false);
    assert.equal(policyAllows([stmt({ action: 'lambda:GetFunction' })], invoke()), false);
    assert.equal(policyAllows([stmt({ action: 'lambda:invokefunction' })], invoke()), true);
    for (const action of ['lambda:*', '*']) {
      for (const requested of ['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl', 'lambda:GetFunction']) {
        assert.equal(policyAllows([stmt({ action })], invoke({ action: requested })), true, `${action} ${requested}`);
      }
    }
  });

  it('scopes by qualifier: the function-wide policy covers unqualified and $LATEST requests; a version or alias policy only its own ARN', () => {
    const wide = stmt();
    assert.equal(policyAllows([wide], invoke()), true);
    assert.equal(policyAllows([wide], invoke({ resourceArn: `${FN}:$LATEST` })), true);
    assert.equal(policyAllows([wide], invoke({ resourceArn: `${FN}:1` })), false);
    assert.equal(policyAllows([wide], invoke({ resourceArn: `${FN}:live` })), false);
    const alias = stmt({}, `${FN}:live`);
    assert.equal(policyAllows([alias], invoke({ resourceArn: `${FN}:live` })), true);
    for (const other of [FN, `${FN}:$LATEST`, `${FN}:1`, `${FN}:liv`, `${FN}:live2`]) assert.equal(policyAllows([alias], invoke({ resourceArn: other })), false, other);
    const version = stmt({}, `${FN}:1`);
    assert.equal(policyAllows([version], invoke({ resourceArn: `${FN}:1` })), true);
    assert.equal(policyAllows([version], invoke({ resourceArn: `${FN}:12` })), false);
    assert.equal(policyAllows([wide], invoke({ resourceArn: `${FN}2` })), false, 'another function');
    assert.equal(policyAllows([wide], invoke({ resourceArn: FN.replace(OWNER, OTHER) })), false, 'the same name in another account');
  });

  it('applies a FunctionUrlAuthType statement to function URL requests of that auth type only', () => {
    const iam = stmt({ action: 'lambda:InvokeFunctionUrl', functionUrlAuthType: 'AWS_IAM' });
    const url = invoke({ action: 'lambda:InvokeFunctionUrl' });
    assert.equal(policyAllows([iam], { ...url, functionUrlAuthType: 'AWS_IAM' }), true);
    assert.equal(policyAllows([iam], { ...url, functionUrlAuthType: 'NONE' }), false);
    assert.equal(policyAllows([iam], url), false, 'no auth type in the request: the condition does not hold');
    const open = stmt({ action: 'lambda:InvokeFunctionUrl', principal: '*', functionUrlAuthType: 'NONE' });
    assert.equal(policyAllows([open], { ...url, callerAccountId: undefined, functionUrlAuthType: 'NONE' }), true);
    assert.equal(policyAllows([open], { ...url, functionUrlAuthType: 'AWS_IAM' }), false);
    assert.equal(policyAllows([open], invoke({ functionUrlAuthType: 'NONE' })), false, 'InvokeFunctionUrl does not grant InvokeFunction');
  });

  it('applies an InvokedViaFunctionUrl statement only to invokes through a URL', () => {
    const via = stmt({ invokedViaFunctionUrl: true });
    assert.equal(policyAllows([via], invoke({ invokedViaFunctionUrl: true })), true);
    assert.equal(policyAllows([via], invoke({ invokedViaFunctionUrl: false })), false);
    assert.equal(policyAllows([via], invoke()), false);
  });

  it('checks AWS:SourceArn with ArnLike (wildcards per ARN part) and AWS:SourceAccount exactly', () => {
    const s = stmt({ principal: '*', sourceArn: 'arn:aws:s3:::bucket-*', sourceAccount: THIRD });
    assert.equal(policyAllows([s], invoke({ sourceArn: 'arn:aws:s3:::bucket-1', sourceAccount: THIRD })), true);
    assert.equal(policyAllows([s], invoke({ sourceArn: 'arn:aws:s3:::other', sourceAccount: THIRD })), false);
    assert.equal(policyAllows([s], invoke({ sourceArn: 'arn:aws:s3:::bucket-1', sourceAccount: OTHER })), false);
    assert.equal(policyAllows([s], invoke({ sourceAccount: THIRD })), false, 'no SourceArn: the condition does not hold');
    assert.equal(policyAllows([s], invoke()), false);
    const q = stmt({ principal: '*', sourceArn: 'arn:aws:sns:us-east-1:?????????????:t' });
    assert.equal(policyAllows([q], invoke({ sourceArn: `arn:aws:sns:us-east-1:${OTHER}:t` })), false, '? is one character');
    assert.equal(policyAllows([q], invoke({ sourceArn: 'arn:aws:sns:us-east-1:1234567890123:t' })), true);
    const star = stmt({ principal: '*', sourceArn: 'arn:aws:events:*:*:rule/*' });
    assert.equal(policyAllows([star], invoke({ sourceArn: `arn:aws:events:us-east-1:${OTHER}:rule/a:b` })), true);
    assert.equal(policyAllows([star], invoke({ sourceArn: `arn:aws:sqs:us-east-1:${OTHER}:rule/a` })), false);
    assert.equal(policyAllows([star], invoke({ sourceArn: 'not-an-arn' })), false);
    const dot = stmt({ principal: '*', sourceArn: 'arn:aws:s3:::a.b' });
    assert.equal(policyAllows([dot], invoke({ sourceArn: 'arn:aws:s3:::aXb' })), false, 'a dot is not a wildcard');
  });

  it('never satisfies aws:PrincipalOrgID or lambda:EventSourceToken (Stratus has neither), so such statements grant nothing', () => {
    assert.equal(policyAllows([stmt({ principal: '*', principalOrgId: 'o-1234567890' })], invoke()), false);
    assert.equal(policyAllows([stmt({ principal: '*', eventSourceToken: 'tok' })], invoke()), false);
  });

  it('fails closed on conditions it does not know, and lets a Deny win', () => {
    const base = stmt();
    assert.equal(policyAllows([{ ...base, Condition: { StringLike: { 'AWS:SourceAccount': '*' } } }], invoke({ sourceAccount: OTHER })), false);
    assert.equal(policyAllows([{ ...base, Condition: { StringEquals: { 'aws:UserAgent': 'x' } } }], invoke()), false);
    assert.equal(policyAllows([base, { ...stmt({ statementId: 'no' }), Effect: 'Deny' }], invoke()), false);
    assert.equal(policyAllows([base, { ...stmt({ statementId: 'no' }, `${FN}:1`), Effect: 'Deny' }], invoke()), true, 'a Deny for another resource');
  });

  it('allows when any one statement matches', () => {
    const statements = [stmt({ statementId: 'a', principal: THIRD }), stmt({ statementId: 'b' }, `${FN}:live`), stmt({ statementId: 'c' })];
    assert.equal(policyAllows(statements, invoke()), true);
    assert.equal(policyAllows(statements.slice(0, 2), invoke()), false);
  });
});

describe('FunctionRegistry.updatePolicy: one policy per qualifier, in the function document', () => {
  const SETTINGS = {
    runtime: 'nodejs20.x' as const, role: 'arn:aws:iam::000000000000:role/r', handler: 'index.handler', description: 'd',
    timeoutSec: 3, memoryMb: 128, ephemeralStorageMb: 512, environment: {},
  };
  async function setup() {
    const deps = {
      journal: new MemoryJournal(), code: new MemoryCodeStore(), clock: new ManualClock(), zipLimits: { maxUnzippedBytes: 1 << 20 },
      accountId: OWNER, region: 'us-east-1', reservedEnvKeys: [], quota: () => ({ maxFunctions: 10, totalCodeBytes: 1e9 }),
    };
    const registry = new FunctionRegistry(deps);
    const changes: string[] = [];
    registry.onChange((name, version) => changes.push(`${name}:${version ?? '*'}`));
    await registry.create('f', SETTINGS, await makeZip({ 'index.js': 'exports.handler = async () => 1;' }));
    const add = (qualifier: string, sid = 's1', resource = FN) => registry.updatePolicy('f', qualifier, (p) => addPermission(p, input({ statementId: sid }), resource));
    const reload = async () => { const again = new FunctionRegistry(deps); await again.load(); return again; };
    return { registry, changes, add, reload };
  }

  it('keeps the function-wide, version and alias policies apart and durable; the function RevisionId and environments are untouched', async () => {
    const { registry, changes, add, reload } = await setup();
    await registry.publish('f');
    await registry.aliases.create('f', 'live', { functionVersion: '1', description: '', additionalVersionWeights: {} });
    const revision = registry.get('f').revisionId;
    changes.length = 0;
    await add('$LATEST');
    await add('1', 's1', `${FN}:1`);
    await add('live', 's1', `${FN}:live`);
    await add('live', 's2', `${FN}:live`);
    assert.deepEqual(changes, [], 'no environment is retired');
    assert.equal(registry.get('f').revisionId, revision, 'the function RevisionId stays');
    const policies = (await reload()).get('f').policies ?? {};
    assert.deepEqual(Object.keys(policies).sort(), ['$LATEST', '1', 'live']);
    assert.deepEqual(policies.live?.statements.map((s) => `${s.Sid} ${s.Resource}`), [`s1 ${FN}:live`, `s2 ${FN}:live`]);
  });

  it('refuses a version or alias that does not exist, in Lambda words, and writes nothing', async () => {
    const { registry, add } = await setup();
    await assert.rejects(add('42'), { code: 'ResourceNotFound', message: `Function not found: ${FN}:42` });
    await assert.rejects(add('nope'), { code: 'ResourceNotFound', message: `Cannot find alias arn: ${FN}:nope` });
    await assert.rejects(add('a$b'), { code: 'ResourceNotFound', message: `Function not found: ${FN}:a$b` });
    await assert.rejects(registry.updatePolicy('g', '$LATEST', () => undefined), { code: 'ResourceNotFound', message: `Function not found: ${FN.slice(0, -1)}g` });
    assert.equal(registry.get('f').policies, undefined);
  });

  it('leaves the document as it was when the change throws', async () => {
    const { add, reload } = await setup();
    const before = await add('$LATEST');
    await assert.rejects(add('$LATEST'), { code: 'ResourceConflict' });
    assert.deepEqual((await reload()).get('f').policies?.$LATEST, before);
  });

  it('does not copy the function policy into a published version; a deleted version or alias takes its policy along', async () => {
    const { registry, add, reload } = await setup();
    await add('$LATEST');
    const v1 = await registry.publish('f');
    assert.equal('policies' in v1, false);
    await registry.aliases.create('f', 'live', { functionVersion: '$LATEST', description: '', additionalVersionWeights: {} });
    await add('1', 's1', `${FN}:1`);
    await add('live', 's1', `${FN}:live`);
    await registry.deleteAlias('f', 'live');
    await registry.delete('f', '1');
    assert.deepEqual(Object.keys((await reload()).get('f').policies ?? {}), ['$LATEST']);
    await registry.aliases.create('f', 'live', { functionVersion: '$LATEST', description: '', additionalVersionWeights: {} });
    assert.equal(registry.get('f').policies?.live, undefined, 'a new alias of the same name starts without a policy');
  });
});
