// Aliases through the real SDK v3 and AWS CLI v2 against a real `stratus up`: CRUD, invoking an
// alias (qualified ARN in the context, executed version in the header), weighted routing checked
// statistically, and Lambda's errors for bad aliases and routing configurations.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateAliasCommand, CreateFunctionCommand, DeleteAliasCommand, GetAliasCommand, GetFunctionCommand, InvokeCommand, PublishVersionCommand,
  UpdateAliasCommand, UpdateFunctionCodeCommand, paginateListAliases, type AliasConfiguration, type CreateAliasCommandInput,
} from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { ARN_PREFIX, createInput, expectLambdaError } from '../helpers/lambda-api.js';
import { makeZip } from '../helpers/zip.js';

const FN = 'af';
const ALIAS_ARN = (alias: string) => `${ARN_PREFIX}${FN}:${alias}`;

function codeZip(tag: string): Promise<Buffer> {
  return makeZip({
    'index.js': `exports.handler = async (event, context) => ({ tag: ${JSON.stringify(tag)}, version: context.functionVersion, arn: context.invokedFunctionArn });\n`,
  });
}

async function cliJson<T>(s: StratusProcess, args: string[]): Promise<T> {
  const r = await aws(s, ['lambda', ...args]);
  assert.equal(r.code, 0, `aws lambda ${args[0]} failed: ${r.stderr}`);
  return r.stdout.trim() ? (JSON.parse(r.stdout) as T) : (undefined as T);
}

async function invokeAlias(s: StratusProcess, qualifier: string): Promise<{ executed?: string; tag: string; version: string; arn: string }> {
  const out = await s.lambda.send(new InvokeCommand({ FunctionName: FN, Qualifier: qualifier, Payload: Buffer.from('{}') }));
  const body = JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8')) as { tag: string; version: string; arn: string };
  return { executed: out.ExecutedVersion, ...body };
}

describe('aliases', () => {
  let stratus: StratusProcess;
  before(async () => {
    stratus = await startStratus();
    await stratus.lambda.send(new CreateFunctionCommand(createInput(FN, await codeZip('one'))));
    await stratus.lambda.send(new PublishVersionCommand({ FunctionName: FN }));
    await stratus.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: FN, ZipFile: await codeZip('two') }));
    await stratus.lambda.send(new PublishVersionCommand({ FunctionName: FN }));
  });
  after(() => stratus?.stop());

  it('CLI create-alias / get-alias / update-alias / list-aliases / delete-alias', async () => {
    const created = await cliJson<AliasConfiguration>(stratus, ['create-alias', '--function-name', FN, '--name', 'cli', '--function-version', '1', '--description', 'from the cli']);
    assert.deepEqual({ ...created, RevisionId: undefined }, { AliasArn: ALIAS_ARN('cli'), Name: 'cli', FunctionVersion: '1', Description: 'from the cli', RevisionId: undefined });
    const got = await cliJson<AliasConfiguration>(stratus, ['get-alias', '--function-name', FN, '--name', 'cli']);
    assert.deepEqual(got, created);
    const updated = await cliJson<AliasConfiguration>(stratus, ['update-alias', '--function-name', FN, '--name', 'cli', '--function-version', '2',
      '--routing-config', 'AdditionalVersionWeights={1=0.25}']);
    assert.deepEqual([updated.FunctionVersion, updated.RoutingConfig?.AdditionalVersionWeights, updated.Description], ['2', { 1: 0.25 }, 'from the cli']);
    assert.notEqual(updated.RevisionId, created.RevisionId);
    const listed = await cliJson<{ Aliases: AliasConfiguration[] }>(stratus, ['list-aliases', '--function-name', FN]);
    assert.deepEqual(listed.Aliases.map((a) => a.Name), ['cli']);
    await cliJson(stratus, ['delete-alias', '--function-name', FN, '--name', 'cli']);
    const after = await cliJson<{ Aliases: AliasConfiguration[] }>(stratus, ['list-aliases', '--function-name', FN]);
    assert.deepEqual(after.Aliases, []);
  });

  it('invoking an alias runs its version, reports it in X-Amz-Executed-Version, and the context has the alias ARN', async () => {
    const alias = await stratus.lambda.send(new CreateAliasCommand({ FunctionName: FN, Name: 'live', FunctionVersion: '1' }));
    assert.equal(alias.$metadata.httpStatusCode, 201);
    const seen = await invokeAlias(stratus, 'live');
    assert.deepEqual(seen, { executed: '1', tag: 'one', version: '1', arn: ALIAS_ARN('live') });
    const byArn = await stratus.lambda.send(new InvokeCommand({ FunctionName: ALIAS_ARN('live') }));
    assert.equal(byArn.ExecutedVersion, '1');
    await stratus.lambda.send(new UpdateAliasCommand({ FunctionName: FN, Name: 'live', FunctionVersion: '2', RevisionId: alias.RevisionId }));
    assert.deepEqual(await invokeAlias(stratus, 'live'), { executed: '2', tag: 'two', version: '2', arn: ALIAS_ARN('live') });
    const got = await stratus.lambda.send(new GetFunctionCommand({ FunctionName: FN, Qualifier: 'live' }));
    assert.deepEqual([got.Configuration?.FunctionArn, got.Configuration?.Version], [ALIAS_ARN('live'), '2']);
  });

  it('splits traffic by AdditionalVersionWeights (statistically), and the header names the version that ran', async () => {
    await stratus.lambda.send(new CreateAliasCommand({ FunctionName: FN, Name: 'split', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { 2: 0.3 } } }));
    const n = 240;
    let second = 0;
    for (let i = 0; i < n; i++) {
      const seen = await invokeAlias(stratus, 'split');
      assert.equal(seen.executed, seen.version, 'X-Amz-Executed-Version is the version that ran');
      assert.equal(seen.tag, seen.version === '2' ? 'two' : 'one');
      if (seen.version === '2') second++;
    }
    // Binomial(240, 0.3): mean 72, sd 7.1; outside mean ± 5 sd happens once in ~1.7 million runs.
    assert.ok(second >= 36 && second <= 108, `${second} of ${n} invocations ran version 2 (expected about 72)`);
  });

  it('lists with a FunctionVersion filter and pages through the SDK paginator', async () => {
    await stratus.lambda.send(new CreateAliasCommand({ FunctionName: FN, Name: 'a-one', FunctionVersion: '1' }));
    await stratus.lambda.send(new CreateAliasCommand({ FunctionName: FN, Name: 'z-latest', FunctionVersion: '$LATEST' }));
    const names: string[] = [];
    for await (const page of paginateListAliases({ client: stratus.lambda, pageSize: 2 }, { FunctionName: FN })) names.push(...(page.Aliases ?? []).map((a) => a.Name ?? ''));
    assert.deepEqual(names, ['a-one', 'live', 'split', 'z-latest']);
    const one: string[] = [];
    for await (const page of paginateListAliases({ client: stratus.lambda }, { FunctionName: FN, FunctionVersion: '1' })) one.push(...(page.Aliases ?? []).map((a) => a.Name ?? ''));
    assert.deepEqual(one, ['a-one', 'split']);
    assert.equal((await invokeAlias(stratus, 'z-latest')).executed, '$LATEST');
  });

  it('refuses invalid routing configurations with Lambda\'s errors', async () => {
    const create = (input: Partial<CreateAliasCommandInput>) => stratus.lambda.send(new CreateAliasCommand({ FunctionName: FN, Name: 'bad', FunctionVersion: '1', ...input }));
    const weights = (w: Record<string, number>) => ({ RoutingConfig: { AdditionalVersionWeights: w } });
    await expectLambdaError(create(weights({ 2: 2 })), 'ValidationException', 400,
      "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]");
    await expectLambdaError(create(weights({ 2: -0.5 })), 'ValidationException', 400, /Value '\{2=-0\.5\}' at 'routingConfig\.additionalVersionWeights'/);
    await expectLambdaError(create(weights({ $LATEST: 0.5 })), 'ValidationException', 400,
      "1 validation error detected: Value '{$LATEST=0.5}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]");
    await expectLambdaError(create(weights({ 2: 0.1, 3: 0.1 })), 'InvalidParameterValueException', 400, 'Number of items in AdditionalVersionWeights cannot be greater than 1');
    await expectLambdaError(create({ FunctionVersion: '$LATEST', ...weights({ 1: 0.1 }) }), 'InvalidParameterValueException', 400, '$LATEST is not supported for an alias pointing to more than 1 version');
    await expectLambdaError(create(weights({ 1: 0.5 })), 'InvalidParameterValueException', 400, 'Invalid function version 1. Function version 1 is already included in routing configuration.');
    await expectLambdaError(create(weights({ 10: 0.5 })), 'ResourceNotFoundException', 404, `Function not found: ${ARN_PREFIX}${FN}:10`);
    await expectLambdaError(create({ FunctionVersion: '10' }), 'ResourceNotFoundException', 404, `Function not found: ${ARN_PREFIX}${FN}:10`);
    const cli = await aws(stratus, ['lambda', 'create-alias', '--function-name', FN, '--name', 'bad', '--function-version', '1', '--routing-config', 'AdditionalVersionWeights={2=1.5}']);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /ValidationException.*Map value must satisfy constraint/);
  });

  it('answers unknown, duplicate, numeric and stale aliases as Lambda does', async () => {
    await expectLambdaError(stratus.lambda.send(new InvokeCommand({ FunctionName: FN, Qualifier: 'nope' })), 'ResourceNotFoundException', 404, `Function not found: ${ALIAS_ARN('nope')}`);
    await expectLambdaError(stratus.lambda.send(new GetAliasCommand({ FunctionName: FN, Name: 'nope' })), 'ResourceNotFoundException', 404, `Cannot find alias arn: ${ALIAS_ARN('nope')}`);
    await expectLambdaError(stratus.lambda.send(new UpdateAliasCommand({ FunctionName: FN, Name: 'nope', FunctionVersion: '1' })), 'ResourceNotFoundException', 404, `Alias not found: ${ALIAS_ARN('nope')}`);
    await expectLambdaError(stratus.lambda.send(new GetFunctionCommand({ FunctionName: FN, Qualifier: 'nope' })), 'ResourceNotFoundException', 404, `Function not found: ${ALIAS_ARN('nope')}`);
    await expectLambdaError(stratus.lambda.send(new CreateAliasCommand({ FunctionName: FN, Name: 'live', FunctionVersion: '1' })), 'ResourceConflictException', 409, `Alias already exists: ${ALIAS_ARN('live')}`);
    await expectLambdaError(stratus.lambda.send(new CreateAliasCommand({ FunctionName: FN, Name: '2024', FunctionVersion: '1' })), 'ValidationException', 400,
      "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)");
    await expectLambdaError(stratus.lambda.send(new UpdateAliasCommand({ FunctionName: FN, Name: 'live', Description: 'x', RevisionId: 'stale' })), 'PreconditionFailedException', 412,
      'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id');
    await expectLambdaError(stratus.lambda.send(new CreateAliasCommand({ FunctionName: 'no-such-fn', Name: 'a', FunctionVersion: '1' })), 'ResourceNotFoundException', 404,
      `Function not found: ${ARN_PREFIX}no-such-fn:1`);
    const gone = await stratus.lambda.send(new DeleteAliasCommand({ FunctionName: FN, Name: 'never-was' }));
    assert.equal(gone.$metadata.httpStatusCode, 204);
  });
});
