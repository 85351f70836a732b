// LoggingConfig through the management API, as a user drives it with the real AWS CLI (and the
// SDK where the HTTP status matters): defaults, create, get, list, update, publish, and Lambda's
// errors. What it does to the logs of an invoke: logging-config-invoke.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateFunctionCommand, UpdateFunctionConfigurationCommand, type FunctionConfiguration } from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { cliWithLoggingConfig } from '../helpers/aws-cli-models.js';
import { createInput, expectLambdaError, handlerZip, ROLE } from '../helpers/lambda-api.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';

const TEXT_WITH_LEVELS = 'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change the LogFormat to "Json" and try again.';

describe('LoggingConfig through the API (AWS CLI)', () => {
  let stratus: StratusProcess;
  let tmp: string;
  let zipPath: string;
  let env: Record<string, string>;

  async function cli<T>(args: string[]): Promise<T> {
    const r = await aws(stratus, ['lambda', ...args], { env });
    assert.equal(r.code, 0, `aws lambda ${args[0]} failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  /** The CLI fails with Lambda's error type and message. */
  async function cliError(args: string[], type: string, message: string): Promise<void> {
    const r = await aws(stratus, ['lambda', ...args], { env });
    assert.notEqual(r.code, 0, `aws lambda ${args[0]} succeeded: ${r.stdout}`);
    assert.ok(r.stderr.includes(`(${type})`), `expected ${type}: ${r.stderr}`);
    assert.ok(r.stderr.trim().endsWith(`: ${message}`), `expected "${message}" in: ${r.stderr}`);
  }

  const create = (name: string, ...extra: string[]) => cli<FunctionConfiguration>([
    'create-function', '--function-name', name, '--runtime', 'nodejs20.x', '--handler', 'index.handler', '--role', ROLE, '--zip-file', `fileb://${zipPath}`, ...extra,
  ]);

  before(async () => {
    stratus = await startStratus();
    tmp = await mkdtemp(join(tmpdir(), 'stratus-logcfg-'));
    zipPath = join(tmp, 'fn.zip');
    env = await cliWithLoggingConfig(join(tmp, 'models'));
    await writeFile(zipPath, await handlerZip('logcfg'));
  });
  after(async () => {
    await stratus?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('defaults to Text to /aws/lambda/<name>, without levels', async () => {
    const out = await create('lc-default');
    assert.deepEqual(out.LoggingConfig, { LogFormat: 'Text', LogGroup: '/aws/lambda/lc-default' });
    const got = await cli<{ Configuration: FunctionConfiguration }>(['get-function', '--function-name', 'lc-default']);
    assert.deepEqual(got.Configuration.LoggingConfig, { LogFormat: 'Text', LogGroup: '/aws/lambda/lc-default' });
  });

  it('create with JSON fills the levels Lambda defaults to; Get, GetConfiguration and List return it', async () => {
    const out = await create('lc-json', '--logging-config', 'LogFormat=JSON,ApplicationLogLevel=DEBUG,LogGroup=/custom/group-1');
    const expected = { LogFormat: 'JSON', ApplicationLogLevel: 'DEBUG', SystemLogLevel: 'INFO', LogGroup: '/custom/group-1' };
    assert.deepEqual(out.LoggingConfig, expected);
    assert.deepEqual((await cli<{ Configuration: FunctionConfiguration }>(['get-function', '--function-name', 'lc-json'])).Configuration.LoggingConfig, expected);
    assert.deepEqual((await cli<FunctionConfiguration>(['get-function-configuration', '--function-name', 'lc-json'])).LoggingConfig, expected);
    const listed = await cli<{ Functions: FunctionConfiguration[] }>(['list-functions']);
    assert.deepEqual(listed.Functions.find((f) => f.FunctionName === 'lc-json')?.LoggingConfig, expected);
    const json = await create('lc-json-defaults', '--logging-config', 'LogFormat=JSON');
    assert.deepEqual(json.LoggingConfig, { LogFormat: 'JSON', ApplicationLogLevel: 'INFO', SystemLogLevel: 'INFO', LogGroup: '/aws/lambda/lc-json-defaults' });
  });

  it('update merges what is given, Text drops the levels, and a published version keeps its own', async () => {
    await create('lc-update');
    const json = await cli<FunctionConfiguration>(['update-function-configuration', '--function-name', 'lc-update', '--logging-config', 'LogFormat=JSON,SystemLogLevel=WARN']);
    assert.deepEqual(json.LoggingConfig, { LogFormat: 'JSON', ApplicationLogLevel: 'INFO', SystemLogLevel: 'WARN', LogGroup: '/aws/lambda/lc-update' });
    const level = await cli<FunctionConfiguration>(['update-function-configuration', '--function-name', 'lc-update', '--logging-config', 'ApplicationLogLevel=FATAL']);
    assert.deepEqual(level.LoggingConfig, { LogFormat: 'JSON', ApplicationLogLevel: 'FATAL', SystemLogLevel: 'WARN', LogGroup: '/aws/lambda/lc-update' });
    assert.notEqual(level.RevisionId, json.RevisionId, 'a LoggingConfig change is a configuration change');
    const v1 = await cli<FunctionConfiguration>(['publish-version', '--function-name', 'lc-update']);
    assert.equal(v1.Version, '1');
    assert.deepEqual(v1.LoggingConfig, level.LoggingConfig);
    const text = await cli<FunctionConfiguration>(['update-function-configuration', '--function-name', 'lc-update', '--logging-config', 'LogFormat=Text,LogGroup=/other']);
    assert.deepEqual(text.LoggingConfig, { LogFormat: 'Text', LogGroup: '/other' });
    const memory = await cli<FunctionConfiguration>(['update-function-configuration', '--function-name', 'lc-update', '--memory-size', '256']);
    assert.deepEqual(memory.LoggingConfig, text.LoggingConfig, 'an update without LoggingConfig leaves it');
    assert.deepEqual((await cli<FunctionConfiguration>(['get-function-configuration', '--function-name', 'lc-update', '--qualifier', '1'])).LoggingConfig, level.LoggingConfig);
    const versions = await cli<{ Versions: FunctionConfiguration[] }>(['list-versions-by-function', '--function-name', 'lc-update']);
    assert.deepEqual(versions.Versions.map((v) => [v.Version, v.LoggingConfig?.LogFormat]), [['$LATEST', 'Text'], ['1', 'JSON']]);
  });

  it('refuses log levels with the Text format, as Lambda does, and changes nothing', async () => {
    await cliError(['create-function', '--function-name', 'lc-bad', '--runtime', 'nodejs20.x', '--handler', 'index.handler', '--role', ROLE,
      '--zip-file', `fileb://${zipPath}`, '--logging-config', 'LogFormat=Text,ApplicationLogLevel=DEBUG'], 'InvalidParameterValueException', TEXT_WITH_LEVELS);
    await cliError(['get-function', '--function-name', 'lc-bad'], 'ResourceNotFoundException', 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:lc-bad');
    await create('lc-text');
    await cliError(['update-function-configuration', '--function-name', 'lc-text', '--logging-config', 'SystemLogLevel=DEBUG'], 'InvalidParameterValueException', TEXT_WITH_LEVELS);
    assert.deepEqual((await cli<FunctionConfiguration>(['get-function-configuration', '--function-name', 'lc-text'])).LoggingConfig, { LogFormat: 'Text', LogGroup: '/aws/lambda/lc-text' });
    const zip = await handlerZip('sdk');
    await expectLambdaError(stratus.lambda.send(new CreateFunctionCommand(createInput('lc-sdk', zip, { LoggingConfig: { SystemLogLevel: 'WARN' } }))),
      'InvalidParameterValueException', 400, TEXT_WITH_LEVELS);
  });

  it('refuses bad values with ValidationException, every violation at once', async () => {
    await create('lc-valid');
    const update = (config: string) => ['update-function-configuration', '--function-name', 'lc-valid', '--logging-config', config];
    await cliError(update('LogFormat=XML'), 'ValidationException',
      "1 validation error detected: Value 'XML' at 'loggingConfig.logFormat' failed to satisfy constraint: Member must satisfy enum value set: [JSON, Text]");
    await cliError(update('LogFormat=JSON,ApplicationLogLevel=VERBOSE,SystemLogLevel=ERROR'), 'ValidationException',
      "2 validation errors detected: Value 'VERBOSE' at 'loggingConfig.applicationLogLevel' failed to satisfy constraint: Member must satisfy enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]; "
      + "Value 'ERROR' at 'loggingConfig.systemLogLevel' failed to satisfy constraint: Member must satisfy enum value set: [DEBUG, INFO, WARN]");
    await cliError(update('LogGroup=my group;rm'), 'ValidationException',
      "1 validation error detected: Value 'my group;rm' at 'loggingConfig.logGroup' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+");
    const huge = `/${'g'.repeat(512)}`;
    await cliError(update(`LogGroup=${huge}`), 'ValidationException',
      `1 validation error detected: Value '${huge}' at 'loggingConfig.logGroup' failed to satisfy constraint: Member must have length less than or equal to 512`);
    await expectLambdaError(stratus.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'lc-valid', LoggingConfig: { LogGroup: '/a\nb' } })),
      'ValidationException', 400, /^1 validation error detected: Value '\/a\nb' at 'loggingConfig.logGroup' failed to satisfy constraint: Member must satisfy regular expression pattern/);
    const max = `/${'g'.repeat(511)}`;
    const ok = await cli<FunctionConfiguration>(update(`LogGroup=${max}`));
    assert.equal(ok.LoggingConfig?.LogGroup, max, 'a name of 512 characters is Lambda\'s limit, not over it');
  });
});
