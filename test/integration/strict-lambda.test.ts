// Tools that read Lambda strictly (Terraform, the AWS CLI's waiters): code signing read as
// Lambda answers it for a function without a configuration, members Stratus does not implement
// refused rather than dropped, supported ones echoed as Lambda echoes them, qualifiers refused
// where Lambda refuses them, and DeadLetterConfig delivering to a function. Through the real
// AWS CLI and the SDK against a real `stratus up`.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateFunctionCommand, GetFunctionCodeSigningConfigCommand, GetFunctionRecursionConfigCommand, GetRuntimeManagementConfigCommand, GetFunctionConfigurationCommand, InvokeCommand, LambdaClient,
  PublishVersionCommand, PutFunctionEventInvokeConfigCommand, UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { createAccount, keyOf } from '../helpers/accounts.js';
import { RECORDER, recordsIn, until } from '../helpers/async-records.js';
import { aws } from '../helpers/aws-cli.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:';
const HELLO = `exports.handler = async () => 'hi';`;
const FAILING = `exports.handler = async (event) => { throw new Error('no: ' + event.marker); };`;
const FUNCTION_ONLY = 'This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.';

let s: StratusProcess;
let zip: Buffer;
let dir: string;
/** The hello package as a file, for the CLI's fileb://. */
const zipFile = async () => join(dir, 'hello.zip');

async function create(name: string, extra: Record<string, unknown> = {}, code = HELLO): Promise<void> {
  await s.lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: await makeZip({ 'index.js': code }) }, ...extra,
  }));
}

async function cli(args: string[]): Promise<Record<string, unknown>> {
  const r = await aws(s, ['lambda', ...args]);
  assert.equal(r.code, 0, `aws lambda ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim() === '' ? {} : (JSON.parse(r.stdout) as Record<string, unknown>);
}

async function cliFails(args: string[], type: string, message: RegExp | string): Promise<void> {
  const r = await aws(s, ['lambda', ...args]);
  assert.notEqual(r.code, 0, `aws lambda ${args.join(' ')} should fail`);
  assert.match(r.stderr, new RegExp(`\\(${type}\\)`), r.stderr);
  if (typeof message === 'string') assert.ok(r.stderr.includes(message), r.stderr);
  else assert.match(r.stderr, message);
}

describe('tools that read Lambda strictly', () => {
  before(async () => {
    s = await startStratus({ args: ['--event-retry-delays-ms', '200,200', '--function-logs', 'stdout'] });
    zip = await makeZip({ 'index.js': HELLO });
    dir = await mkdtemp(join(tmpdir(), 'strict-zip-'));
    await writeFile(join(dir, 'hello.zip'), zip);
    await create('plain');
  });
  after(async () => {
    await s.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('GetFunctionCodeSigningConfig answers as Lambda for a function without one; the other code-signing operations as documented', async () => {
    assert.deepEqual(await cli(['get-function-code-signing-config', '--function-name', 'plain']), { CodeSigningConfigArn: '', FunctionName: 'plain' });
    const bySdk = await s.lambda.send(new GetFunctionCodeSigningConfigCommand({ FunctionName: `${ARN}plain` }));
    assert.equal(bySdk.CodeSigningConfigArn, '');
    assert.equal(bySdk.FunctionName, 'plain');
    await cliFails(['get-function-code-signing-config', '--function-name', 'nope'], 'ResourceNotFoundException', `Function not found: ${ARN}nope`);
    await cliFails(['get-function-code-signing-config', '--function-name', 'plain:1'], 'InvalidParameterValueException', FUNCTION_ONLY);
    const csc = 'arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdefg';
    await cliFails(['put-function-code-signing-config', '--function-name', 'plain', '--code-signing-config-arn', csc], 'CodeSigningConfigNotFoundException',
      `The code signing configuration cannot be found. Check that the provided configuration is not deleted: ${csc}.`);
    await cliFails(['get-code-signing-config', '--code-signing-config-arn', csc], 'ResourceNotFoundException', `The Lambda code signing configuration ${csc} can not be found.`);
    await cliFails(['create-code-signing-config', '--allowed-publishers', 'SigningProfileVersionArns=arn:aws:signer:us-east-1:000000000000:/signing-profiles/p/v1'],
      'InvalidParameterValueException', /Code signing is not supported by this Stratus installation/);
    assert.deepEqual(await cli(['list-code-signing-configs']), { CodeSigningConfigs: [] });
    assert.deepEqual(await cli(['delete-function-code-signing-config', '--function-name', 'plain']), {});
  });

  test('members Stratus does not implement are refused, nothing is created or changed; their "unused" values are accepted', async () => {
    const refused: [string, Record<string, unknown>, RegExp][] = [
      ['vpc', { VpcConfig: { SubnetIds: ['subnet-0abc'], SecurityGroupIds: ['sg-0abc'] } }, /VpcConfig is not supported/],
      ['xray', { TracingConfig: { Mode: 'Active' } }, /TracingConfig is not supported/],
      ['arm', { Architectures: ['arm64'] }, /Architectures is not supported/],
      ['kms', { KMSKeyArn: 'arn:aws:kms:us-east-1:000000000000:key/abc' }, /KMSKeyArn is not supported/],
      ['efs', { FileSystemConfigs: [{ Arn: 'arn:aws:elasticfilesystem:us-east-1:000000000000:access-point/fsap-1', LocalMountPath: '/mnt/x' }] }, /FileSystemConfigs is not supported/],
      ['durable', { DurableConfig: { ExecutionTimeout: 60 } }, /DurableConfig is not supported/],
      ['latest-published', { Publish: true, PublishTo: 'LATEST_PUBLISHED' }, /PublishTo is not supported/],
      ['signed', { CodeSigningConfigArn: 'arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdefg' }, /CodeSigningConfigArn is not supported/],
    ];
    for (const [name, extra, message] of refused) {
      await assert.rejects(create(`refused-${name}`, extra), { name: 'InvalidParameterValueException', message }, name);
      await assert.rejects(s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: `refused-${name}` })), { name: 'ResourceNotFoundException' }, `${name} left nothing`);
    }
    await cliFails(['create-function', '--function-name', 'from-s3', '--runtime', 'nodejs20.x', '--role', ROLE, '--handler', 'index.handler', '--code', 'S3Bucket=code-bucket,S3Key=fn.zip'],
      'InvalidParameterValueException', /S3Bucket is not supported by this Stratus installation/);
    const before = await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'plain' }));
    await cliFails(['update-function-configuration', '--function-name', 'plain', '--tracing-config', 'Mode=Active', '--description', 'changed'],
      'InvalidParameterValueException', /TracingConfig is not supported/);
    await cliFails(['update-function-code', '--function-name', 'plain', '--architectures', 'arm64', '--zip-file', `fileb://${await zipFile()}`], 'InvalidParameterValueException', /Architectures is not supported/);
    const unchanged = await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'plain' }));
    assert.equal(unchanged.RevisionId, before.RevisionId, 'a refused update changes nothing');
    assert.equal(unchanged.Description, '');

    await create('unused', { VpcConfig: { SubnetIds: [], SecurityGroupIds: [] }, TracingConfig: { Mode: 'PassThrough' }, Architectures: ['x86_64'], KMSKeyArn: '' });
    const c = await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'unused' }));
    assert.deepEqual(c.TracingConfig, { Mode: 'PassThrough' });
    assert.deepEqual(c.Architectures, ['x86_64']);
  });

  test('supported members are echoed as Lambda echoes them, empty Environment included', async () => {
    const created = await cli(['create-function', '--function-name', 'empty-env', '--runtime', 'nodejs20.x', '--role', ROLE, '--handler', 'index.handler',
      '--zip-file', `fileb://${await zipFile()}`, '--environment', 'Variables={}']);
    assert.deepEqual(created.Environment, { Variables: {} });
    assert.deepEqual((await cli(['get-function-configuration', '--function-name', 'empty-env'])).Environment, { Variables: {} });
    assert.equal((await cli(['get-function-configuration', '--function-name', 'plain'])).Environment, undefined, 'none given, none shown');
    const updated = await s.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'plain', Environment: { Variables: {} } }));
    assert.deepEqual(updated.Environment, { Variables: {} });
    const withVars = await s.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'plain', Environment: { Variables: { AB: '1' } } }));
    assert.deepEqual(withVars.Environment, { Variables: { AB: '1' } });
  });

  test('operations on the whole function refuse a version or alias as Lambda does', async () => {
    await cli(['publish-version', '--function-name', 'plain']);
    await cliFails(['put-function-concurrency', '--function-name', 'plain:1', '--reserved-concurrent-executions', '5'], 'InvalidParameterValueException', FUNCTION_ONLY);
    await cliFails(['put-function-concurrency', '--function-name', `${ARN}plain:$LATEST`, '--reserved-concurrent-executions', '5'], 'InvalidParameterValueException', FUNCTION_ONLY);
    await cliFails(['get-function-concurrency', '--function-name', 'plain:1'], 'InvalidParameterValueException', FUNCTION_ONLY);
    await cliFails(['update-function-configuration', '--function-name', 'plain:1', '--description', 'x'], 'InvalidParameterValueException', FUNCTION_ONLY);
    await cliFails(['update-function-code', '--function-name', `${ARN}plain:1`, '--zip-file', `fileb://${await zipFile()}`], 'InvalidParameterValueException', FUNCTION_ONLY);
    await cliFails(['publish-version', '--function-name', 'plain:1'], 'InvalidParameterValueException', FUNCTION_ONLY);
    await assert.rejects(s.lambda.send(new PublishVersionCommand({ FunctionName: 'plain', PublishTo: 'LATEST_PUBLISHED' })), { name: 'InvalidParameterValueException', message: /PublishTo is not supported/ });
    // This AWS CLI predates the recursion config: through the SDK.
    await assert.rejects(s.lambda.send(new GetFunctionRecursionConfigCommand({ FunctionName: 'plain:1' })), {
      name: 'ValidationException', message: /at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern/,
    });
    assert.equal((await s.lambda.send(new GetFunctionRecursionConfigCommand({ FunctionName: 'plain' }))).RecursiveLoop, 'Allow');
    assert.equal((await cli(['get-runtime-management-config', '--function-name', 'plain', '--qualifier', '1'])).UpdateRuntimeOn, 'Auto', 'a version is accepted');
    assert.equal((await s.lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'plain', Qualifier: '1' }))).FunctionArn, `${ARN}plain:1`);
    await cliFails(['tag-resource', '--resource', `${ARN}plain:1`, '--tags', 'a=b'], 'InvalidParameterValueException', 'Tags on function aliases and versions are not supported. Please specify a function ARN.');
    assert.equal((await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'plain' }))).Description, '', 'a refused update of a version changed $LATEST neither');
  });

  test('Lambda\'s waiters return for a created and an updated function', async () => {
    await cli(['create-function', '--function-name', 'waited', '--runtime', 'nodejs20.x', '--role', ROLE, '--handler', 'index.handler', '--zip-file', `fileb://${await zipFile()}`]);
    await cli(['wait', 'function-active-v2', '--function-name', 'waited']);
    await cli(['wait', 'function-exists', '--function-name', 'waited']);
    await cli(['update-function-configuration', '--function-name', 'waited', '--memory-size', '256']);
    await cli(['wait', 'function-updated-v2', '--function-name', 'waited']);
    const c = await cli(['get-function', '--function-name', 'waited']);
    assert.equal((c.Configuration as Record<string, unknown>).State, 'Active');
    assert.equal((c.Configuration as Record<string, unknown>).LastUpdateStatus, 'Successful');
  });

  test('a version that is really Pending (its SnapStart snapshot being made) is waited for by published-version-active', async () => {
    await create('snapped', { SnapStart: { ApplyOn: 'PublishedVersions' } });
    const published = await cli(['publish-version', '--function-name', 'snapped']);
    assert.equal(published.State, 'Pending');
    await cli(['wait', 'published-version-active', '--function-name', 'snapped', '--qualifier', '1']);
    const after = await cli(['get-function-configuration', '--function-name', 'snapped', '--qualifier', '1']);
    assert.equal(after.State, 'Active', `${String(after.StateReasonCode)}: ${String(after.StateReason)}`);
  });

  test('DeadLetterConfig: a function target gets the event whose retries ran out; other targets are refused', async () => {
    await create('letters', {}, RECORDER);
    await cliFails(['create-function', '--function-name', 'dlq-sqs', '--runtime', 'nodejs20.x', '--role', ROLE, '--handler', 'index.handler',
      '--zip-file', `fileb://${await zipFile()}`, '--dead-letter-config', 'TargetArn=arn:aws:sqs:us-east-1:000000000000:q'],
    'InvalidParameterValueException', /only to Lambda functions, not to an Amazon SQS queue/);
    await assert.rejects(create('dlq-missing', { DeadLetterConfig: { TargetArn: `${ARN}nope` } }), { name: 'InvalidParameterValueException', message: /must name an existing function of this account/ });
    await create('doomed', { DeadLetterConfig: { TargetArn: `${ARN}letters` } }, FAILING);
    const shown = await cli(['get-function-configuration', '--function-name', 'doomed']);
    assert.deepEqual(shown.DeadLetterConfig, { TargetArn: `${ARN}letters` });
    await s.lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'doomed', MaximumRetryAttempts: 1 }));
    const marker = `m-${Date.now()}`;
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'doomed', InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ marker })) }));
    assert.equal(out.StatusCode, 202);
    const letter = await until(() => recordsIn(s.output()).find((r) => r.marker === marker), 'the dead letter', 60_000);
    assert.deepEqual(letter, { marker }, 'the event itself, as it was sent');
    assert.equal(recordsIn(s.output()).filter((r) => r.marker === marker).length, 1, 'one dead letter');
    await assert.rejects(s.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'doomed', DeadLetterConfig: { TargetArn: `${ARN}doomed` } })),
      { name: 'InvalidParameterValueException', message: /as a dead-letter target for itself/ }, 'a function is not its own dead-letter target');
    const removed = await s.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'doomed', DeadLetterConfig: {} }));
    assert.equal(removed.DeadLetterConfig, undefined, 'DeadLetterConfig {} removes it');
  });

  test('attack: a dead-letter target in another account is refused, so failed events never cross accounts', async () => {
    const other = await createAccount(s.url, s.credentials, 'dlq-victim');
    const victim = new LambdaClient({ endpoint: s.url, region: 'us-east-1', credentials: keyOf(other), maxAttempts: 1 });
    try {
      await victim.send(new CreateFunctionCommand({ FunctionName: 'inbox', Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: zip } }));
      const target = `arn:aws:lambda:us-east-1:${other.AccountId}:function:inbox`;
      await assert.rejects(create('thief', { DeadLetterConfig: { TargetArn: target } }), { name: 'InvalidParameterValueException', message: /must name an existing function of this account/ });
      await assert.rejects(s.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'plain', DeadLetterConfig: { TargetArn: target } })), { name: 'InvalidParameterValueException' });
      assert.equal((await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'plain' }))).DeadLetterConfig, undefined);
    } finally {
      victim.destroy();
    }
  });
});
