// Published versions through the real SDK v3 and AWS CLI v2 against a real `stratus up`: publish,
// list, invoke a version while $LATEST moves on, separate environments per version, Lambda's
// checks and errors, and versions surviving a restart.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAliasCommand, CreateFunctionCommand, DeleteFunctionCommand, GetFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand,
  ListFunctionsCommand, PublishVersionCommand, UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand, paginateListVersionsByFunction,
  type FunctionConfiguration,
} from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { ARN_PREFIX, createInput, expectLambdaError, sha256b64, startOnDataDir } from '../helpers/lambda-api.js';
import { makeZip } from '../helpers/zip.js';

/** Module scope runs once per sandbox: `sandbox` tells environments apart. */
function probeZip(tag: string): Promise<Buffer> {
  return makeZip({
    'index.js': `const sandbox = require('crypto').randomUUID();
exports.handler = async (event, context) => ({
  tag: ${JSON.stringify(tag)}, sandbox, version: context.functionVersion, envVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
  arn: context.invokedFunctionArn, memory: context.memoryLimitInMB, greeting: process.env.GREETING ?? null,
});\n`,
  });
}

interface Probe {
  tag: string;
  sandbox: string;
  version: string;
  envVersion: string;
  arn: string;
  memory: string;
  greeting: string | null;
}

async function invoke(s: StratusProcess, name: string, qualifier?: string): Promise<{ probe: Probe; executed?: string }> {
  const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, Qualifier: qualifier, Payload: Buffer.from('{}') }));
  const text = Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8');
  assert.equal(out.FunctionError, undefined, `function error: ${text}`);
  return { probe: JSON.parse(text) as Probe, executed: out.ExecutedVersion };
}

async function cliJson<T>(s: StratusProcess, args: string[]): Promise<T> {
  const r = await aws(s, ['lambda', ...args]);
  assert.equal(r.code, 0, `aws lambda ${args[0]} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

describe('versions', () => {
  let stratus: StratusProcess;
  let zip1: Buffer;
  let zip2: Buffer;
  before(async () => {
    stratus = await startStratus();
    zip1 = await probeZip('one');
    zip2 = await probeZip('two');
    await stratus.lambda.send(new CreateFunctionCommand(createInput('vf', zip1, { Description: 'the function' })));
  });
  after(() => stratus?.stop());

  it('CLI publish-version snapshots $LATEST as version 1', async () => {
    const v1 = await cliJson<FunctionConfiguration>(stratus, ['publish-version', '--function-name', 'vf', '--description', 'first']);
    assert.equal(v1.Version, '1');
    assert.equal(v1.FunctionArn, `${ARN_PREFIX}vf:1`);
    assert.equal(v1.Description, 'first');
    assert.equal(v1.CodeSha256, sha256b64(zip1));
    assert.deepEqual([v1.State, v1.LastUpdateStatus], ['Active', 'Successful']);
  });

  it('$LATEST stays mutable: version 1 keeps its code and configuration, invoked by qualifier (SDK and CLI)', async () => {
    await stratus.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'vf', ZipFile: zip2 }));
    await stratus.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'vf', MemorySize: 256, Environment: { Variables: { GREETING: 'hi' } } }));
    const latest = await invoke(stratus, 'vf');
    assert.deepEqual([latest.probe.tag, latest.probe.memory, latest.probe.greeting, latest.executed], ['two', '256', 'hi', '$LATEST']);
    const v1 = await invoke(stratus, 'vf', '1');
    assert.deepEqual([v1.probe.tag, v1.probe.memory, v1.probe.greeting, v1.executed], ['one', '128', null, '1']);
    assert.deepEqual([v1.probe.version, v1.probe.envVersion, v1.probe.arn], ['1', '1', `${ARN_PREFIX}vf:1`]);
    const byArn = await invoke(stratus, `${ARN_PREFIX}vf:1`);
    assert.equal(byArn.executed, '1');
    const dir = await mkdtemp(join(tmpdir(), 'stratus-versions-cli-'));
    try {
      const meta = await cliJson<{ ExecutedVersion: string }>(stratus, ['invoke', '--function-name', 'vf', '--qualifier', '1', join(dir, 'out.json')]);
      assert.equal(meta.ExecutedVersion, '1');
      assert.equal((JSON.parse(await readFile(join(dir, 'out.json'), 'utf8')) as Probe).tag, 'one');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('each version runs in its own environments, and a change to $LATEST leaves a version warm', async () => {
    const v1 = await invoke(stratus, 'vf', '1');
    const latest = await invoke(stratus, 'vf');
    assert.notEqual(v1.probe.sandbox, latest.probe.sandbox);
    await stratus.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'vf', Timeout: 9 }));
    assert.equal((await invoke(stratus, 'vf', '1')).probe.sandbox, v1.probe.sandbox, 'version 1 is still warm');
    assert.notEqual((await invoke(stratus, 'vf')).probe.sandbox, latest.probe.sandbox, '$LATEST got a new environment');
  });

  it('publishes 2, lists $LATEST, 1, 2 (SDK paginator and CLI), and publishing without changes returns 2 again', async () => {
    const v2 = await stratus.lambda.send(new PublishVersionCommand({ FunctionName: 'vf' }));
    assert.equal(v2.$metadata.httpStatusCode, 201);
    assert.deepEqual([v2.Version, v2.Description, v2.MemorySize, v2.CodeSha256], ['2', 'the function', 256, sha256b64(zip2)]);
    const again = await stratus.lambda.send(new PublishVersionCommand({ FunctionName: 'vf' }));
    assert.deepEqual([again.Version, again.RevisionId], ['2', v2.RevisionId]);
    const seen: FunctionConfiguration[] = [];
    for await (const page of paginateListVersionsByFunction({ client: stratus.lambda, pageSize: 2 }, { FunctionName: 'vf' })) seen.push(...(page.Versions ?? []));
    assert.deepEqual(seen.map((v) => [v.Version, v.FunctionArn]), [['$LATEST', `${ARN_PREFIX}vf:$LATEST`], ['1', `${ARN_PREFIX}vf:1`], ['2', `${ARN_PREFIX}vf:2`]]);
    assert.equal(seen[0]?.State, undefined, 'list items leave out the state fields');
    const cli = await cliJson<{ Versions: FunctionConfiguration[] }>(stratus, ['list-versions-by-function', '--function-name', 'vf']);
    assert.deepEqual(cli.Versions.map((v) => v.Version), ['$LATEST', '1', '2']);
    const all = await stratus.lambda.send(new ListFunctionsCommand({ FunctionVersion: 'ALL' }));
    assert.deepEqual(all.Functions?.map((f) => f.Version), ['$LATEST', '1', '2']);
  });

  it('GetFunction with a version shows that version and serves its code', async () => {
    const got = await stratus.lambda.send(new GetFunctionCommand({ FunctionName: 'vf', Qualifier: '1' }));
    assert.deepEqual([got.Configuration?.Version, got.Configuration?.FunctionArn, got.Configuration?.MemorySize], ['1', `${ARN_PREFIX}vf:1`, 128]);
    const bytes = Buffer.from(await (await fetch(got.Code?.Location ?? '')).arrayBuffer());
    assert.ok(bytes.equals(zip1), 'the version\'s own zip');
    const latest = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'vf:$LATEST' }));
    assert.deepEqual([latest.Version, latest.FunctionArn], ['$LATEST', `${ARN_PREFIX}vf:$LATEST`]);
  });

  it('checks CodeSha256 and RevisionId on publish', async () => {
    await stratus.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'vf', Description: 'changed' }));
    await expectLambdaError(stratus.lambda.send(new PublishVersionCommand({ FunctionName: 'vf', CodeSha256: sha256b64(zip1) })), 'InvalidParameterValueException', 400,
      `CodeSHA256 (${sha256b64(zip1)}) is different from current CodeSHA256 in $LATEST (${sha256b64(zip2)}). Please try again with the CodeSHA256 in $LATEST.`);
    await expectLambdaError(stratus.lambda.send(new PublishVersionCommand({ FunctionName: 'vf', RevisionId: 'not-the-revision' })), 'PreconditionFailedException', 412,
      'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id');
    const current = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'vf' }));
    const v3 = await stratus.lambda.send(new PublishVersionCommand({ FunctionName: 'vf', CodeSha256: sha256b64(zip2), RevisionId: current.RevisionId }));
    assert.equal(v3.Version, '3');
  });

  it('unknown versions are 404; a version an alias uses cannot be deleted; others go, and numbers are not reused', async () => {
    await expectLambdaError(stratus.lambda.send(new InvokeCommand({ FunctionName: 'vf', Qualifier: '42' })), 'ResourceNotFoundException', 404, `Function not found: ${ARN_PREFIX}vf:42`);
    await expectLambdaError(stratus.lambda.send(new GetFunctionCommand({ FunctionName: 'vf:42' })), 'ResourceNotFoundException', 404, `Function not found: ${ARN_PREFIX}vf:42`);
    await stratus.lambda.send(new CreateAliasCommand({ FunctionName: 'vf', Name: 'prod', FunctionVersion: '2' }));
    await stratus.lambda.send(new CreateAliasCommand({ FunctionName: 'vf', Name: 'canary', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { 2: 0.1 } } }));
    await expectLambdaError(stratus.lambda.send(new DeleteFunctionCommand({ FunctionName: 'vf', Qualifier: '2' })), 'ResourceConflictException', 409,
      'Unable to delete version because the following aliases reference it: [canary, prod]');
    const cli = await aws(stratus, ['lambda', 'delete-function', '--function-name', 'vf', '--qualifier', '2']);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /ResourceConflictException.*Unable to delete version because the following aliases reference it: \[canary, prod\]/);
    const deleted = await stratus.lambda.send(new DeleteFunctionCommand({ FunctionName: 'vf', Qualifier: '3' }));
    assert.equal(deleted.$metadata.httpStatusCode, 204);
    await stratus.lambda.send(new DeleteFunctionCommand({ FunctionName: 'vf', Qualifier: '3' }));
    await expectLambdaError(stratus.lambda.send(new InvokeCommand({ FunctionName: 'vf', Qualifier: '3' })), 'ResourceNotFoundException', 404);
    await stratus.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'vf', Description: 'fourth' }));
    assert.equal((await stratus.lambda.send(new PublishVersionCommand({ FunctionName: 'vf' }))).Version, '4');
    await expectLambdaError(stratus.lambda.send(new DeleteFunctionCommand({ FunctionName: 'vf', Qualifier: 'prod' })), 'InvalidParameterValueException', 400,
      'Deletion of aliases is not currently supported.');
  });

  it('CreateFunction and UpdateFunctionCode with Publish answer with the new version', async () => {
    const created = await stratus.lambda.send(new CreateFunctionCommand(createInput('vf-pub', zip1, { Publish: true })));
    assert.deepEqual([created.Version, created.FunctionArn], ['1', `${ARN_PREFIX}vf-pub`]);
    const updated = await stratus.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'vf-pub', ZipFile: zip2, Publish: true }));
    assert.deepEqual([updated.Version, updated.FunctionArn, updated.CodeSha256], ['2', `${ARN_PREFIX}vf-pub:2`, sha256b64(zip2)]);
    assert.equal((await invoke(stratus, 'vf-pub', '1')).probe.tag, 'one');
    assert.equal((await invoke(stratus, 'vf-pub', '2')).probe.tag, 'two');
  });
});

describe('versions across a restart', () => {
  let dataDir: string;
  let stratus: StratusProcess | undefined;
  const credentials = { accessKeyId: 'AKIAVERSIONSRESTART', secretAccessKey: 'versions-restart-secret' };
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'stratus-versions-'));
  });
  after(async () => {
    await stratus?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('versions and aliases are in the journal: invocable after a restart, numbering goes on', async () => {
    stratus = await startOnDataDir(dataDir, credentials);
    await stratus.lambda.send(new CreateFunctionCommand(createInput('durable-v', await probeZip('kept'))));
    await stratus.lambda.send(new PublishVersionCommand({ FunctionName: 'durable-v' }));
    await stratus.lambda.send(new CreateAliasCommand({ FunctionName: 'durable-v', Name: 'live', FunctionVersion: '1' }));
    await stratus.stop();
    stratus = await startOnDataDir(dataDir, credentials);
    await stratus.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'durable-v', ZipFile: await probeZip('new') }));
    const viaAlias = await invoke(stratus, 'durable-v', 'live');
    assert.deepEqual([viaAlias.probe.tag, viaAlias.executed], ['kept', '1']);
    assert.equal((await stratus.lambda.send(new PublishVersionCommand({ FunctionName: 'durable-v' }))).Version, '2');
  });
});
