// Resource policies through the real AWS CLI v2 against a real `stratus up`: add-permission,
// get-policy and remove-permission with Lambda's shapes, one policy per function, version and
// alias, and Lambda's error (type, HTTP status, message) for every kind of bad input, after which
// every policy is exactly as it was. A tenant cannot grow a policy past Lambda's size limit.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AddPermissionCommand, CreateAliasCommand, CreateFunctionCommand, DeleteAliasCommand, GetPolicyCommand, PublishVersionCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { ARN_PREFIX, createInput, handlerZip } from '../helpers/lambda-api.js';

const FN = 'pf';
const ARN = `${ARN_PREFIX}${FN}`;
const OTHER = '111122223333';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Operation = 'AddPermission' | 'GetPolicy' | 'RemovePermission';
const COMMAND: Record<Operation, string> = { AddPermission: 'add-permission', GetPolicy: 'get-policy', RemovePermission: 'remove-permission' };

/** Runs `aws lambda <op>` with --debug, so the HTTP status of Stratus's answer can be read from the CLI's own log. */
async function cli(s: StratusProcess, op: Operation, args: string[]): Promise<{ code: number; stdout: string; stderr: string; status: number }> {
  const r = await aws(s, ['--debug', 'lambda', COMMAND[op], ...args]);
  const statuses = [...r.stderr.matchAll(/HTTP\/1\.1" (\d{3})/g)].map((m) => Number(m[1]));
  return { ...r, status: statuses.at(-1) ?? 0 };
}

async function cliOk<T>(s: StratusProcess, op: Operation, args: string[], status: number): Promise<T> {
  const r = await cli(s, op, args);
  assert.equal(r.code, 0, `${op} failed: ${r.stderr.split('\n').slice(-3).join('\n')}`);
  assert.equal(r.status, status, `${op} status`);
  return (r.stdout.trim() ? JSON.parse(r.stdout) : undefined) as T;
}

async function cliError(s: StratusProcess, op: Operation, args: string[], type: string, status: number, message: string): Promise<void> {
  const r = await cli(s, op, args);
  assert.notEqual(r.code, 0, `${op} ${args.join(' ')} succeeded`);
  assert.equal(lastLine(r.stderr), `An error occurred (${type}) when calling the ${op} operation: ${message}`);
  assert.equal(r.status, status, `HTTP status of ${type}`);
}

/** The CLI's error line, without the retry count it inserts ("operation (reached max retries: 0): ..."). */
function lastLine(stderr: string): string {
  return (stderr.trim().split('\n').at(-1) ?? '').replace(/ \(reached max retries: \d+\)/, '');
}

/** Every policy of the function as GetPolicy shows it (via the SDK), to prove a refused call changed nothing. */
async function policies(s: StratusProcess, qualifiers: (string | undefined)[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const qualifier of qualifiers) {
    try {
      const got = await s.lambda.send(new GetPolicyCommand({ FunctionName: FN, Qualifier: qualifier }));
      out[qualifier ?? ''] = `${got.RevisionId ?? ''} ${got.Policy ?? ''}`;
    } catch (err) {
      out[qualifier ?? ''] = (err as Error).name;
    }
  }
  return out;
}

const statementOf = (out: { Statement: string }) => JSON.parse(out.Statement) as Record<string, unknown>;

describe('resource policies (AWS CLI)', () => {
  let stratus: StratusProcess;
  let dataDir = '';
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'stratus-permissions-'));
    stratus = await startStratus({ dataDir });
    await stratus.lambda.send(new CreateFunctionCommand(createInput(FN, await handlerZip('p'))));
    await stratus.lambda.send(new PublishVersionCommand({ FunctionName: FN }));
    await stratus.lambda.send(new CreateAliasCommand({ FunctionName: FN, Name: 'live', FunctionVersion: '1' }));
  });
  after(async () => {
    await stratus?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('add-permission answers 201 with the statement as Lambda writes it; get-policy returns the default policy; remove-permission answers 204', async () => {
    const account = await cliOk<{ Statement: string }>(stratus, 'AddPermission',
      ['--function-name', FN, '--statement-id', 'xaccount', '--action', 'lambda:InvokeFunction', '--principal', OTHER], 201);
    const accountJson = `{"Sid":"xaccount","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::${OTHER}:root"},"Action":"lambda:InvokeFunction","Resource":"${ARN}"}`;
    assert.equal(account.Statement, accountJson);
    const first = await cliOk<{ Policy: string; RevisionId: string }>(stratus, 'GetPolicy', ['--function-name', FN], 200);
    assert.equal(first.Policy, `{"Version":"2012-10-17","Id":"default","Statement":[${accountJson}]}`);
    assert.match(first.RevisionId, UUID);

    const s3 = await cliOk<{ Statement: string }>(stratus, 'AddPermission', ['--function-name', ARN, '--statement-id', 's3', '--action', 'lambda:InvokeFunction',
      '--principal', 's3.amazonaws.com', '--source-arn', 'arn:aws:s3:::bucket', '--source-account', OTHER, '--revision-id', first.RevisionId], 201);
    assert.equal(s3.Statement, `{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"${ARN}",`
      + `"Condition":{"StringEquals":{"AWS:SourceAccount":"${OTHER}"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"}}}`);
    const url = await cliOk<{ Statement: string }>(stratus, 'AddPermission', ['--function-name', FN, '--statement-id', 'url', '--action', 'lambda:InvokeFunctionUrl',
      '--principal', '*', '--function-url-auth-type', 'AWS_IAM', '--principal-org-id', 'o-1234567890'], 201);
    assert.deepEqual(statementOf(url), {
      Sid: 'url', Effect: 'Allow', Principal: '*', Action: 'lambda:InvokeFunctionUrl', Resource: ARN,
      Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM', 'aws:PrincipalOrgID': 'o-1234567890' } },
    });

    const three = await cliOk<{ Policy: string; RevisionId: string }>(stratus, 'GetPolicy', ['--function-name', FN], 200);
    assert.notEqual(three.RevisionId, first.RevisionId);
    assert.deepEqual((JSON.parse(three.Policy) as { Statement: unknown[] }).Statement, [JSON.parse(accountJson), statementOf(s3), statementOf(url)]);

    assert.equal(await cliOk(stratus, 'RemovePermission', ['--function-name', FN, '--statement-id', 's3', '--revision-id', three.RevisionId], 204), undefined);
    const two = await cliOk<{ Policy: string; RevisionId: string }>(stratus, 'GetPolicy', ['--function-name', FN], 200);
    assert.deepEqual((JSON.parse(two.Policy) as { Statement: { Sid: string }[] }).Statement.map((s) => s.Sid), ['xaccount', 'url']);
    assert.notEqual(two.RevisionId, three.RevisionId);
    await cliOk(stratus, 'RemovePermission', ['--function-name', FN, '--statement-id', 'xaccount'], 204);
    await cliOk(stratus, 'RemovePermission', ['--function-name', `${FN}:$LATEST`, '--statement-id', 'url'], 204);
    await cliError(stratus, 'GetPolicy', ['--function-name', FN], 'ResourceNotFoundException', 404, 'The resource you requested does not exist.');
  });

  it('keeps one policy per function, version and alias; a new version does not inherit the function policy; a deleted alias takes its policy along', async () => {
    const add = (fn: string, sid: string, extra: string[] = []) =>
      cliOk<{ Statement: string }>(stratus, 'AddPermission', ['--function-name', fn, '--statement-id', sid, '--action', 'lambda:InvokeFunction', '--principal', OTHER, ...extra], 201);
    assert.equal(statementOf(await add(FN, 'same')).Resource, ARN);
    assert.equal(statementOf(await add(FN, 'same', ['--qualifier', 'live'])).Resource, `${ARN}:live`);
    assert.equal(statementOf(await add(`${FN}:1`, 'same')).Resource, `${ARN}:1`);
    const resources = async (args: string[]) => {
      const got = await cliOk<{ Policy: string }>(stratus, 'GetPolicy', ['--function-name', FN, ...args], 200);
      return (JSON.parse(got.Policy) as { Statement: { Resource: string }[] }).Statement.map((s) => s.Resource);
    };
    assert.deepEqual(await resources([]), [ARN]);
    assert.deepEqual(await resources(['--qualifier', '$LATEST']), [ARN], '$LATEST shares the function policy');
    assert.deepEqual(await resources(['--qualifier', 'live']), [`${ARN}:live`]);
    assert.deepEqual(await resources(['--qualifier', '1']), [`${ARN}:1`]);

    await stratus.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: FN, Description: 'two' }));
    await stratus.lambda.send(new PublishVersionCommand({ FunctionName: FN }));
    await cliError(stratus, 'GetPolicy', ['--function-name', `${FN}:2`], 'ResourceNotFoundException', 404, 'The resource you requested does not exist.');

    await stratus.lambda.send(new CreateAliasCommand({ FunctionName: FN, Name: 'tmp', FunctionVersion: '2' }));
    await add(FN, 'grant', ['--qualifier', 'tmp']);
    await stratus.lambda.send(new DeleteAliasCommand({ FunctionName: FN, Name: 'tmp' }));
    await stratus.lambda.send(new CreateAliasCommand({ FunctionName: FN, Name: 'tmp', FunctionVersion: '2' }));
    await cliError(stratus, 'GetPolicy', ['--function-name', FN, '--qualifier', 'tmp'], 'ResourceNotFoundException', 404, 'The resource you requested does not exist.');
    assert.deepEqual(await resources(['--qualifier', 'live']), [`${ARN}:live`], 'the other policies stay');
  });

  it("refuses bad input with Lambda's error type, status and message, and changes no policy", async () => {
    const add = (...args: string[]) => ['--function-name', FN, '--statement-id', 'new', '--action', 'lambda:InvokeFunction', '--principal', OTHER, ...args];
    await cliOk(stratus, 'AddPermission', add('--statement-id', 'taken'), 201);
    await stratus.lambda.send(new CreateAliasCommand({ FunctionName: FN, Name: 'bare', FunctionVersion: '1' }));
    const qualifiers = [undefined, '1', 'live', 'bare'];
    const before = await policies(stratus, qualifiers);
    const invalidPrincipal = 'The provided principal was invalid. Please check the principal and try again.';
    const validation = (value: string, field: string, constraint: string) =>
      `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: ${constraint}`;
    const cases: [Operation, string[], string, number, string][] = [
      ['AddPermission', add('--principal', 'invalid.nonaws.com'), 'InvalidParameterValueException', 400, invalidPrincipal],
      ['AddPermission', add('--principal', '12345678901'), 'InvalidParameterValueException', 400, invalidPrincipal],
      ['AddPermission', add('--principal', 'arn:aws:iam::12345:root'), 'InvalidParameterValueException', 400, invalidPrincipal],
      ['AddPermission', add('--principal', `arn:aws:iam::${OTHER}:user/dev`), 'InvalidParameterValueException', 400, invalidPrincipal],
      ['AddPermission', add('--principal', 'a b'), 'ValidationException', 400, validation('a b', 'principal', 'Member must satisfy regular expression pattern: [^\\s]+')],
      ['AddPermission', add('--statement-id', 'example.com'), 'ValidationException', 400,
        validation('example.com', 'statementId', 'Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)')],
      ['AddPermission', add('--action', 'lambda:Invoke-Function'), 'ValidationException', 400,
        validation('lambda:Invoke-Function', 'action', 'Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])')],
      ['AddPermission', add('--source-account', '12345'), 'ValidationException', 400,
        validation('12345', 'sourceAccount', 'Member must satisfy regular expression pattern: \\d{12}')],
      ['AddPermission', add('--function-url-auth-type', 'NONE'), 'InvalidParameterValueException', 400,
        'FunctionUrlAuthType is only supported for lambda:InvokeFunctionUrl action'],
      ['AddPermission', add('--statement-id', 'taken'), 'ResourceConflictException', 409,
        'The statement id (taken) provided already exists. Please provide a new statement id, or remove the existing statement.'],
      ['AddPermission', add('--revision-id', 'wrong'), 'PreconditionFailedException', 412,
        'The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id'],
      ['AddPermission', add('--qualifier', '$LATEST'), 'InvalidParameterValueException', 400, 'We currently do not support adding policies for $LATEST.'],
      ['AddPermission', [...add('--qualifier', '1'), '--function-name', `${FN}:live`], 'InvalidParameterValueException', 400,
        'The derived qualifier from the function name does not match the specified qualifier.'],
      ['AddPermission', add('--qualifier', '42'), 'ResourceNotFoundException', 404, `Function not found: ${ARN}:42`],
      ['AddPermission', add('--qualifier', 'nope'), 'ResourceNotFoundException', 404, `Cannot find alias arn: ${ARN}:nope`],
      ['AddPermission', add('--qualifier', 'bad?q'), 'ValidationException', 400,
        validation('bad?q', 'qualifier', 'Member must satisfy regular expression pattern: \\$(LATEST(\\.PUBLISHED)?)|[a-zA-Z0-9-_$]+')],
      ['AddPermission', [...add(), '--function-name', 'nosuch'], 'ResourceNotFoundException', 404, `Function not found: ${ARN_PREFIX}nosuch`],
      ['RemovePermission', ['--function-name', FN, '--statement-id', 'nope'], 'ResourceNotFoundException', 404, 'Statement nope is not found in resource policy.'],
      ['RemovePermission', ['--function-name', FN, '--statement-id', 'taken', '--revision-id', 'wrong'], 'PreconditionFailedException', 412,
        'The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id'],
      ['RemovePermission', ['--function-name', FN, '--statement-id', 'taken', '--qualifier', 'bare'], 'ResourceNotFoundException', 404,
        'No policy is associated with the given resource.'],
      ['RemovePermission', ['--function-name', FN, '--statement-id', 'taken', '--qualifier', 'nope'], 'ResourceNotFoundException', 404,
        `Cannot find alias arn: ${ARN}:nope`],
      ['RemovePermission', ['--function-name', FN, '--statement-id', 'a:b'], 'ValidationException', 400,
        validation('a:b', 'statementId', 'Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)')],
      ['RemovePermission', ['--function-name', 'nosuch', '--statement-id', 'taken'], 'ResourceNotFoundException', 404, `No policy found for: ${ARN_PREFIX}nosuch`],
      ['GetPolicy', ['--function-name', 'nosuch'], 'ResourceNotFoundException', 404, 'The resource you requested does not exist.'],
      ['GetPolicy', ['--function-name', FN, '--qualifier', '77'], 'ResourceNotFoundException', 404, 'The resource you requested does not exist.'],
    ];
    for (const [op, args, type, status, message] of cases) {
      await cliError(stratus, op, args, type, status, message);
      assert.deepEqual(await policies(stratus, qualifiers), before, `${op} ${args.join(' ')} changed a policy`);
    }
  });

  it('a tenant cannot grow a policy past 20480 bytes: PolicyLengthExceededException, and the policy stays as it was', async () => {
    await stratus.lambda.send(new CreateFunctionCommand(createInput('big', await handlerZip('b'))));
    const sourceArn = `arn:aws:s3:::${'b'.repeat(900)}`;
    let added = 0;
    for (;; added++) {
      try {
        await stratus.lambda.send(new AddPermissionCommand({ FunctionName: 'big', StatementId: `s${added}`, Action: 'lambda:InvokeFunction', Principal: '*', SourceArn: sourceArn }));
      } catch (err) {
        assert.equal((err as Error).name, 'PolicyLengthExceededException');
        break;
      }
      assert.ok(added < 100, 'the policy grew without limit');
    }
    const before = await stratus.lambda.send(new GetPolicyCommand({ FunctionName: 'big' }));
    assert.ok(Buffer.byteLength(before.Policy ?? '') <= 20480 && added > 10, `${added} statements, ${before.Policy?.length ?? 0} bytes`);
    const r = await cli(stratus, 'AddPermission', ['--function-name', 'big', '--statement-id', 'one-more', '--action', 'lambda:InvokeFunction', '--principal', '*', '--source-arn', sourceArn]);
    assert.match(lastLine(r.stderr),
      /^An error occurred \(PolicyLengthExceededException\) when calling the AddPermission operation: The final policy size \(\d+\) is bigger than the limit \(20480\)\.$/);
    assert.equal(r.status, 400);
    const after = await stratus.lambda.send(new GetPolicyCommand({ FunctionName: 'big' }));
    assert.deepEqual([after.Policy, after.RevisionId], [before.Policy, before.RevisionId]);
  });

  it('policies survive a restart (they are in the journal)', async () => {
    const before = await policies(stratus, [undefined, '1', 'live']);
    await stratus.kill();
    stratus = await startStratus({ dataDir, credentials: stratus.credentials });
    assert.deepEqual(await policies(stratus, [undefined, '1', 'live']), before);
    assert.notEqual(before[''], 'ResourceNotFoundException');
  });
});
