// The function management API refusing bad input and bad signatures the way Lambda does, and
// losing nothing when it refuses. Driven with the real AWS SDK v3 and AWS CLI v2.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  CreateFunctionCommand, GetFunctionConfigurationCommand, LambdaClient, ListFunctionsCommand, UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip, renameEntry } from '../helpers/zip.js';
import { ARN_PREFIX, ROLE, createInput, doc, expectLambdaError, handlerZip, signedFetch, zipWithRawEntryName } from '../helpers/lambda-api.js';

const PREFIX = '1 validation error detected: ';

/** Every file and directory under `dir`, relative to it, except the journal's own files. */
async function treeOf(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((p) => !p.startsWith('journal.db')).sort();
}

describe('functions API: invalid requests get Lambda errors and change nothing', () => {
  let stratus: StratusProcess;
  let zip: Buffer;
  const create = (name: string, extra: Parameters<typeof createInput>[2] = {}, code = zip) =>
    stratus.lambda.send(new CreateFunctionCommand(createInput(name, code, extra)));
  const assertAbsent = (name: string) =>
    expectLambdaError(stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name })), 'ResourceNotFoundException', 404,
      `Function not found: ${ARN_PREFIX}${name}`);
  before(async () => {
    stratus = await startStratus();
    zip = await handlerZip('errors');
    await create('existing');
  });
  after(async () => {
    await stratus?.stop();
  });

  it('a signed request whose path is malformed percent-encoding is a 400 ValidationException, not a service error', async () => {
    const res = await signedFetch(stratus, 'GET', '/2015-03-31/functions/%E0%A4%A/configuration');
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('x-amzn-errortype'), 'ValidationException');
    assert.deepEqual(await res.json(), { message: 'The request path is not valid percent-encoding.' });
  });

  it('a duplicate create is 409 ResourceConflictException and keeps the original', async () => {
    const original = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'existing' }));
    await expectLambdaError(create('existing', { MemorySize: 1024 }, await handlerZip('other')), 'ResourceConflictException', 409,
      'Function already exist: existing');
    const after = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'existing' }));
    assert.deepEqual([after.RevisionId, after.CodeSha256, after.MemorySize], [original.RevisionId, original.CodeSha256, 128]);
  });

  it('MemorySize 100 and Timeout 0 are ValidationExceptions', async () => {
    await expectLambdaError(create('mem', { MemorySize: 100 }), 'ValidationException', 400,
      `${PREFIX}Value '100' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128`);
    await expectLambdaError(create('tmo', { Timeout: 0 }), 'ValidationException', 400,
      `${PREFIX}Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1`);
    await assertAbsent('mem');
    await assertAbsent('tmo');
  });

  it('a Role that is not an IAM role ARN is a ValidationException (SDK and CLI)', async () => {
    const message = `${PREFIX}Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+`;
    await expectLambdaError(create('role', { Role: 'r1' }), 'ValidationException', 400, message);
    await assertAbsent('role');
    // The CLI checks ranges itself (MemorySize 100 never leaves it) but not patterns.
    const cli = await aws(stratus, ['lambda', 'update-function-configuration', '--function-name', 'existing', '--role', 'r1']);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /\(ValidationException\) when calling the UpdateFunctionConfiguration operation/);
    assert.ok(cli.stderr.includes(`: ${message}`), cli.stderr);
    assert.equal((await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'existing' }))).Role, ROLE);
  });

  it('an unknown runtime is an InvalidParameterValueException', async () => {
    const err = await expectLambdaError(create('rt', { Runtime: 'nodejs99.x' as 'nodejs20.x' }), 'InvalidParameterValueException', 400,
      /^Value nodejs99\.x at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: \[.*\bnodejs20\.x\b.*\] or be a valid ARN$/);
    assert.ok(!err.message.includes('nodejs99.x,'), 'the bad value is not offered as valid');
    await assertAbsent('rt');
  });

  it('a reserved environment key (AWS_REGION) is an InvalidParameterValueException, on create and on update', async () => {
    const message = 'Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: AWS_REGION';
    const env = { Environment: { Variables: { AWS_REGION: 'eu-west-1', FINE: 'yes' } } };
    await expectLambdaError(create('env', env), 'InvalidParameterValueException', 400, message);
    await assertAbsent('env');
    await expectLambdaError(stratus.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'existing', ...env })),
      'InvalidParameterValueException', 400, message);
    assert.equal((await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'existing' }))).Environment, undefined);
    // Every name Lambda reserves, TZ among them; the message lists the ones used, in order.
    const reserved = { TZ: 'Europe/Paris', LAMBDA_TASK_ROOT: '/tmp', AWS_LAMBDA_RUNTIME_API: '127.0.0.1:1' };
    await expectLambdaError(create('env2', { Environment: { Variables: reserved } }), 'InvalidParameterValueException', 400,
      `${message.replace(/AWS_REGION$/, '')}${Object.keys(reserved).join(', ')}`);
    await assertAbsent('env2');
  });

  it('a function name with invalid characters is a ValidationException', async () => {
    await expectLambdaError(create('bad name!'), 'ValidationException', 400,
      /^1 validation error detected: Value 'bad name!' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: /);
    const list = await stratus.lambda.send(new ListFunctionsCommand({}));
    assert.ok(!list.Functions?.some((f) => f.FunctionName === 'bad name!'));
  });

  it('a ZipFile that is not a zip is an InvalidParameterValueException', async () => {
    await expectLambdaError(create('notzip', {}, Buffer.from('this is not a zip file')), 'InvalidParameterValueException', 400,
      /^Could not unzip uploaded file\. Please check your file, then try to upload again\./);
    await assertAbsent('notzip');
  });

  const evil = `stratus-evil-${process.pid}.js`;
  const hostile: [string, () => Promise<Buffer>][] = [
    ['an entry ../NAME', () => zipWithRawEntryName(`../${evil}`, 'pwned')],
    ['an entry lib/../../NAME', () => zipWithRawEntryName(`lib/../../${evil}`, 'pwned')],
    ['an absolute entry /tmp/NAME', () => zipWithRawEntryName(join(tmpdir(), evil), 'pwned')],
    ['a symlink entry (mode 0o120777)', () => makeZip({ 'index.mjs': '/etc/passwd' }, { 'index.mjs': 0o120777 })],
    ['a symlink out of the package', () => makeZip({ 'lib/up': '../../../etc', 'index.mjs': 'x' }, { 'lib/up': 0o120777 })],
    ['an entry written through a symlink', () => makeZip({ lib: '.', 'lib/index.mjs': 'x' }, { lib: 0o120777 })],
    ['an entry that appears twice', async () => renameEntry(await makeZip({ 'index.mjs': 'export const handler = async () => 1;', 'indey.mjs': 'x' }), 'indey.mjs', 'index.mjs')],
    ['an entry whose header understates its size', async () => {
      const zip = Buffer.from(await makeZip({ 'index.mjs': `export const handler = async () => ${'1 + '.repeat(5000)}1;` }));
      zip.writeUInt32LE(64, zip.indexOf(Buffer.from([0x50, 0x4b, 0x03, 0x04])) + 22);
      zip.writeUInt32LE(64, zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 24);
      return zip;
    }],
  ];
  for (const [i, [what, build]] of hostile.entries()) {
    it(`a zip with ${what} is refused on create and on update, and nothing is written`, async () => {
      const name = `hostile-${i}`;
      const bad = await build();
      const before = await treeOf(stratus.dataDir);
      const existing = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'existing' }));
      await expectLambdaError(create(name, {}, bad), 'InvalidParameterValueException', 400, /^Could not unzip uploaded file/);
      await assertAbsent(name);
      await expectLambdaError(stratus.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'existing', ZipFile: bad })),
        'InvalidParameterValueException', 400, /^Could not unzip uploaded file/);
      const after = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'existing' }));
      assert.deepEqual([after.CodeSha256, after.RevisionId], [existing.CodeSha256, existing.RevisionId]);
      assert.deepEqual(await treeOf(stratus.dataDir), before, 'nothing new in the data directory');
      for (const outside of [join(tmpdir(), evil), join(dirname(stratus.dataDir), evil), join(stratus.dataDir, evil)]) {
        assert.equal(existsSync(outside), false, `${outside} must not exist`);
      }
    });
  }
});

describe('functions API: SigV4 authentication', () => {
  let stratus: StratusProcess;
  let intruder: LambdaClient;
  let stranger: LambdaClient;
  let zip64: string;
  const get = () => stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'guarded' }));
  before(async () => {
    stratus = await startStratus();
    const { accessKeyId } = stratus.credentials;
    intruder = new LambdaClient({ endpoint: stratus.url, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId, secretAccessKey: 'wrong-secret' } });
    stranger = new LambdaClient({ endpoint: stratus.url, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: stratus.credentials.secretAccessKey } });
    const zip = await handlerZip('guarded');
    zip64 = zip.toString('base64');
    await stratus.lambda.send(new CreateFunctionCommand(createInput('guarded', zip)));
  });
  after(async () => {
    intruder?.destroy();
    stranger?.destroy();
    await stratus?.stop();
  });

  it('a wrong secret gets 403 InvalidSignatureException from the SDK and the CLI, and changes nothing', async () => {
    const original = await get();
    await expectLambdaError(intruder.send(new CreateFunctionCommand(createInput('sneaky', await handlerZip('x')))), 'InvalidSignatureException', 403,
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.');
    await expectLambdaError(intruder.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'guarded', MemorySize: 2048 })), 'InvalidSignatureException', 403);
    const cli = await aws(stratus, ['lambda', 'delete-function', '--function-name', 'guarded'], { secret: 'wrong-secret' });
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /InvalidSignatureException/);
    const list = await stratus.lambda.send(new ListFunctionsCommand({}));
    assert.deepEqual(list.Functions?.map((f) => f.FunctionName), ['guarded']);
    assert.equal((await get()).RevisionId, original.RevisionId);
  });

  it('an unknown access key gets 403 UnrecognizedClientException and changes nothing', async () => {
    const original = await get();
    await expectLambdaError(stranger.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'guarded', Timeout: 60 })), 'UnrecognizedClientException', 403,
      'The security token included in the request is invalid.');
    await expectLambdaError(stranger.send(new ListFunctionsCommand({})), 'UnrecognizedClientException', 403);
    assert.deepEqual([(await get()).RevisionId, (await get()).Timeout], [original.RevisionId, 3]);
  });

  it('a request without Authorization gets 403 MissingAuthenticationTokenException and changes nothing', async () => {
    const original = await get();
    const body = JSON.stringify({ FunctionName: 'anon', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: zip64 } });
    const attempts: [string, string, string?][] = [
      ['GET', '/2015-03-31/functions'],
      ['POST', '/2015-03-31/functions', body],
      ['PUT', '/2015-03-31/functions/guarded/configuration', JSON.stringify({ MemorySize: 4096 })],
      ['DELETE', '/2015-03-31/functions/guarded'],
    ];
    for (const [method, path, payload] of attempts) {
      const res = await fetch(`${stratus.url}${path}`, { method, body: payload, headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
      assert.deepEqual(await res.json(), { message: 'Missing Authentication Token' });
    }
    const list = await stratus.lambda.send(new ListFunctionsCommand({}));
    assert.deepEqual(list.Functions?.map((f) => f.FunctionName), ['guarded']);
    assert.deepEqual(doc(await get()), doc(original));
  });
});
