// The layer API through the real AWS CLI against a real `stratus up`: every operation, its shapes
// and its errors as Lambda answers them; Layers on create/update (limits, checks, the 250 MB with
// the function); a hostile package (a link, a path out of its root) refused at publish; and
// cross-account use only as the layer's policy grants it.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAccount, keyOf, type AccountKey } from './helpers/accounts.js';
import { aws, type CliResult } from './helpers/aws-cli.js';
import { GetLayerVersionCommand, PublishLayerVersionCommand } from '@aws-sdk/client-lambda';
import { expectLambdaError, zipWithRawEntryName } from './helpers/lambda-api.js';
import { startStratus, type StratusProcess } from './helpers/stratus.js';
import { makeZip } from './helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/lambda-role';
const REGION_ARN = 'arn:aws:lambda:us-east-1';

let stratus: StratusProcess;
let dir: string;
let other: AccountKey;
let files = 0;

async function file(bytes: Buffer): Promise<string> {
  const path = join(dir, `f${files++}.zip`);
  await writeFile(path, bytes);
  return path;
}

/** Runs the CLI as the administrator (or `as`), expecting success; the parsed JSON output. */
async function ok(args: string[], as?: AccountKey): Promise<Record<string, any>> {
  const r = await aws(stratus, ['lambda', ...args], as ? { credentials: keyOf(as) } : {});
  assert.equal(r.code, 0, `aws lambda ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, any>) : {};
}

/** Runs the CLI expecting Lambda's error `type` (and message). */
async function fails(args: string[], type: string, message?: RegExp | string, as?: AccountKey): Promise<CliResult> {
  const r = await aws(stratus, ['lambda', ...args], as ? { credentials: keyOf(as) } : {});
  assert.notEqual(r.code, 0, `aws lambda ${args.join(' ')} succeeded: ${r.stdout}`);
  assert.match(r.stderr, new RegExp(`An error occurred \\(${type}\\)`), r.stderr);
  if (typeof message === 'string') assert.ok(r.stderr.trim().endsWith(message), `${r.stderr} should end with ${message}`);
  else if (message) assert.match(r.stderr, message);
  return r;
}

async function publish(name: string, zip: Buffer, extra: string[] = [], as?: AccountKey) {
  return ok(['publish-layer-version', '--layer-name', name, '--zip-file', `fileb://${await file(zip)}`, ...extra], as);
}

const moduleZip = (text: string) => makeZip({ 'nodejs/node_modules/greet/index.js': `module.exports = ${JSON.stringify(text)};\n` });
const functionZip = () => makeZip({ 'index.js': 'exports.handler = async () => require("greet");\n' });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stratus-layers-api-'));
  stratus = await startStratus();
  other = await createAccount(stratus.url, stratus.credentials, 'other');
});

after(async () => {
  await stratus?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('publish, get, list and delete layer versions', () => {
  it('publishes numbered versions with Lambda shapes, reads them by name and ARN, lists and deletes them', async () => {
    const zip = await moduleZip('v1');
    const v1 = await publish('tools', zip, ['--description', 'first', '--compatible-runtimes', 'nodejs20.x', 'python3.11', '--license-info', 'MIT', '--compatible-architectures', 'x86_64']);
    assert.equal(v1.LayerArn, `${REGION_ARN}:000000000000:layer:tools`);
    assert.equal(v1.LayerVersionArn, `${REGION_ARN}:000000000000:layer:tools:1`);
    assert.equal(v1.Version, 1);
    assert.equal(v1.Description, 'first');
    assert.equal(v1.LicenseInfo, 'MIT');
    assert.deepEqual(v1.CompatibleRuntimes, ['nodejs20.x', 'python3.11']);
    assert.deepEqual(v1.CompatibleArchitectures, ['x86_64']);
    assert.match(v1.CreatedDate, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$/);
    assert.equal(v1.Content.CodeSize, zip.length);
    assert.match(v1.Content.CodeSha256, /^[A-Za-z0-9+/]{43}=$/);

    const v2 = await publish('tools', await moduleZip('v2'), ['--compatible-runtimes', 'python3.11']);
    assert.equal(v2.Version, 2);
    assert.equal(v2.Description, '');

    const got = await ok(['get-layer-version', '--layer-name', 'tools', '--version-number', '1']);
    assert.deepEqual(got, v1);
    assert.deepEqual(await ok(['get-layer-version-by-arn', '--arn', v1.LayerVersionArn]), v1);
    assert.deepEqual(await ok(['get-layer-version', '--layer-name', v1.LayerArn, '--version-number', '1']), v1);

    const versions = await ok(['list-layer-versions', '--layer-name', 'tools']);
    assert.deepEqual(versions.LayerVersions.map((v: { Version: number }) => v.Version), [2, 1]);
    assert.equal(versions.LayerVersions[1].Content, undefined);
    const node = await ok(['list-layer-versions', '--layer-name', 'tools', '--compatible-runtime', 'nodejs20.x']);
    assert.deepEqual(node.LayerVersions.map((v: { Version: number }) => v.Version), [1]);

    const layers = await ok(['list-layers']);
    const tools = layers.Layers.find((l: { LayerName: string }) => l.LayerName === 'tools');
    assert.equal(tools.LayerArn, v1.LayerArn);
    assert.equal(tools.LatestMatchingVersion.Version, 2);
    const nodeLayers = await ok(['list-layers', '--compatible-runtime', 'nodejs20.x']);
    assert.equal(nodeLayers.Layers.find((l: { LayerName: string }) => l.LayerName === 'tools').LatestMatchingVersion.Version, 1);

    await ok(['delete-layer-version', '--layer-name', 'tools', '--version-number', '2']);
    await ok(['delete-layer-version', '--layer-name', 'tools', '--version-number', '2']);
    await fails(['get-layer-version', '--layer-name', 'tools', '--version-number', '2'], 'ResourceNotFoundException', 'The resource you requested does not exist.');
    // Numbers are never reused.
    assert.equal((await publish('tools', zip)).Version, 3);
  });

  it('answers bad requests with Lambda errors', async () => {
    await fails(['get-layer-version', '--layer-name', 'nothing', '--version-number', '1'], 'ResourceNotFoundException', 'The resource you requested does not exist.');
    await fails(['get-layer-version', '--layer-name', 'tools', '--version-number', '0'], 'InvalidParameterValueException', 'Layer Version Cannot be less than 1');
    await fails(['get-layer-version-by-arn', '--arn', `${REGION_ARN}:000000000000:layer:tools`], 'ValidationException', /at 'arn' failed to satisfy constraint/);
    await fails(['publish-layer-version', '--layer-name', 'bad name', '--zip-file', `fileb://${await file(await moduleZip('x'))}`], 'ValidationException', /at 'layerName' failed to satisfy constraint/);
    await fails(['publish-layer-version', '--layer-name', 's3', '--content', 'S3Bucket=my-bucket,S3Key=layer.zip'], 'InvalidParameterValueException', 'Only ZipFile code is supported by this Stratus installation.');
    await fails(['publish-layer-version', '--layer-name', 'rt', '--zip-file', `fileb://${await file(await moduleZip('x'))}`, '--compatible-runtimes', 'cobol'],
      'ValidationException', /Value 'cobol' at 'compatibleRuntimes.1.member' failed to satisfy constraint: Member must satisfy enum value set/);
    // The CLI will not send a package that is not a zip; the SDK will.
    await expectLambdaError(stratus.lambda.send(new PublishLayerVersionCommand({ LayerName: 'junk', Content: { ZipFile: Buffer.from('not a zip') } })),
      'InvalidParameterValueException', 400, /^Could not unzip uploaded file/);
    await expectLambdaError(stratus.lambda.send(new GetLayerVersionCommand({ LayerName: 'nothing', VersionNumber: 1 })),
      'ResourceNotFoundException', 404, 'The resource you requested does not exist.');
    await fails(['list-layers', '--compatible-architecture', 'mips'], 'ValidationException', /compatibleArchitecture/);
    await fails(['list-layer-versions', '--layer-name', 'tools', '--compatible-runtime', 'cobol'], 'ValidationException', /compatibleRuntime/);
  });

  it('refuses a layer package with a symbolic link or a path out of its root, storing nothing', async () => {
    const link = await makeZip({ 'nodejs/escape': '/etc/shadow' }, { 'nodejs/escape': 0o120777 });
    await fails(['publish-layer-version', '--layer-name', 'hostile', '--zip-file', `fileb://${await file(link)}`], 'InvalidParameterValueException', /symbolic link/);
    const escape = await zipWithRawEntryName('../../../etc/cron.d/x', 'boom');
    await fails(['publish-layer-version', '--layer-name', 'hostile', '--zip-file', `fileb://${await file(escape)}`], 'InvalidParameterValueException', /points outside the package/);
    const absolute = await zipWithRawEntryName('/opt/nodejs/abs', 'boom');
    await fails(['publish-layer-version', '--layer-name', 'hostile', '--zip-file', `fileb://${await file(absolute)}`], 'InvalidParameterValueException', /points outside the package/);
    assert.deepEqual((await ok(['list-layer-versions', '--layer-name', 'hostile'])).LayerVersions, []);
  });
});

describe('layer version permissions', () => {
  it('adds, reads and removes statements with revision checks', async () => {
    const v = await publish('shared', await moduleZip('shared'));
    const base = ['--layer-name', 'shared', '--version-number', String(v.Version)];
    await fails(['get-layer-version-policy', ...base], 'ResourceNotFoundException', 'No policy is associated with the given resource.');
    const added = await ok(['add-layer-version-permission', ...base, '--statement-id', 'everyone', '--action', 'lambda:GetLayerVersion', '--principal', '*']);
    assert.deepEqual(JSON.parse(added.Statement), { Sid: 'everyone', Effect: 'Allow', Principal: '*', Action: 'lambda:GetLayerVersion', Resource: v.LayerVersionArn });
    assert.match(added.RevisionId, /^[0-9a-f-]{36}$/);
    await fails(['add-layer-version-permission', ...base, '--statement-id', 'everyone', '--action', 'lambda:GetLayerVersion', '--principal', '*'],
      'ResourceConflictException', 'The statement id (everyone) provided already exists. Please provide a new statement id, or remove the existing statement.');
    await fails(['add-layer-version-permission', ...base, '--statement-id', 'x', '--action', 'lambda:InvokeFunction', '--principal', '*'], 'ValidationException', /at 'action'/);
    await fails(['add-layer-version-permission', ...base, '--statement-id', 'x', '--action', 'lambda:GetLayerVersion', '--principal', 'someone'], 'ValidationException', /at 'principal'/);
    await fails(['add-layer-version-permission', ...base, '--statement-id', 'x', '--action', 'lambda:GetLayerVersion', '--principal', '*', '--revision-id', 'stale'],
      'PreconditionFailedException', /does not match the latest Revision Id/);
    await fails(['add-layer-version-permission', '--layer-name', 'shared', '--version-number', '99', '--statement-id', 'x', '--action', 'lambda:GetLayerVersion', '--principal', '*'],
      'ResourceNotFoundException', `Layer version ${REGION_ARN}:000000000000:layer:shared:99 does not exist.`);
    const second = await ok(['add-layer-version-permission', ...base, '--statement-id', 'one', '--action', 'lambda:GetLayerVersion', '--principal', '123456789012', '--revision-id', added.RevisionId]);
    const policy = await ok(['get-layer-version-policy', ...base]);
    assert.equal(policy.RevisionId, second.RevisionId);
    assert.deepEqual(JSON.parse(policy.Policy).Statement.map((s: { Sid: string; Principal: unknown }) => [s.Sid, s.Principal]),
      [['everyone', '*'], ['one', { AWS: 'arn:aws:iam::123456789012:root' }]]);
    await ok(['remove-layer-version-permission', ...base, '--statement-id', 'everyone']);
    await fails(['remove-layer-version-permission', ...base, '--statement-id', 'everyone'], 'ResourceNotFoundException', 'Statement everyone is not found in resource policy.');
    assert.deepEqual(JSON.parse((await ok(['get-layer-version-policy', ...base])).Policy).Statement.map((s: { Sid: string }) => s.Sid), ['one']);
  });
});

describe('Layers on functions', () => {
  it('reports Layers, replaces and clears them, and snapshots them in published versions', async () => {
    const a = await publish('lib-a', await moduleZip('a'));
    const b = await publish('lib-b', await moduleZip('b'));
    const created = await ok(['create-function', '--function-name', 'with-layers', '--runtime', 'nodejs20.x', '--handler', 'index.handler', '--role', ROLE,
      '--zip-file', `fileb://${await file(await functionZip())}`, '--layers', a.LayerVersionArn, b.LayerVersionArn]);
    assert.deepEqual(created.Layers, [{ Arn: a.LayerVersionArn, CodeSize: a.Content.CodeSize }, { Arn: b.LayerVersionArn, CodeSize: b.Content.CodeSize }]);
    const version = await ok(['publish-version', '--function-name', 'with-layers']);
    assert.deepEqual(version.Layers, created.Layers);
    const updated = await ok(['update-function-configuration', '--function-name', 'with-layers', '--layers', b.LayerVersionArn]);
    assert.deepEqual(updated.Layers, [{ Arn: b.LayerVersionArn, CodeSize: b.Content.CodeSize }]);
    assert.deepEqual((await ok(['get-function', '--function-name', 'with-layers'])).Configuration.Layers, updated.Layers);
    assert.deepEqual((await ok(['get-function-configuration', '--function-name', 'with-layers', '--qualifier', version.Version])).Layers, created.Layers);
    const cleared = await ok(['update-function-configuration', '--function-name', 'with-layers', '--layers', '[]']);
    assert.equal(cleared.Layers, undefined);
  });

  it('refuses Layers as Lambda does, changing nothing', async () => {
    const v = await publish('limit', await moduleZip('x'));
    const create = (layers: string[]) => ['create-function', '--function-name', 'refused', '--runtime', 'nodejs20.x', '--handler', 'index.handler', '--role', ROLE,
      '--zip-file', `fileb://${dir}/fn.zip`, '--layers', ...layers];
    await writeFile(join(dir, 'fn.zip'), await functionZip());
    const six = await Promise.all(['l1', 'l2', 'l3', 'l4', 'l5', 'l6'].map(async (n) => (await publish(n, await moduleZip(n))).LayerVersionArn as string));
    await fails(create(six), 'InvalidParameterValueException', 'Cannot reference more than 5 layers.');
    const missing = `${REGION_ARN}:000000000000:layer:limit:9`;
    await fails(create([missing]), 'InvalidParameterValueException', `Layer version ${missing} does not exist.`);
    await fails(create([`${REGION_ARN}:000000000000:layer:limit`]), 'ValidationException', /at 'layers' failed to satisfy constraint/);
    const v2 = await publish('limit', await moduleZip('y'));
    await fails(create([v.LayerVersionArn, v2.LayerVersionArn]), 'InvalidParameterValueException',
      `Two different versions of the same layer are not allowed to be referenced in the same function. ${v.LayerVersionArn} and ${v2.LayerVersionArn} are versions of the same layer.`);
    await fails(create([`arn:aws:lambda:eu-west-1:000000000000:layer:limit:1`]), 'InvalidParameterValueException',
      'Layers are not in the same region as the function. Layers are expected to be in region us-east-1.');
    await fails(['get-function', '--function-name', 'refused'], 'ResourceNotFoundException');
  });

  it('refuses a function whose code and layers together pass 250 MB unzipped', async () => {
    const big = await publish('big', await makeZip({ 'bin/blob': Buffer.alloc(150 * 1024 * 1024) }));
    const fnZip = await makeZip({ 'index.js': 'exports.handler = async () => 1;\n', 'blob': Buffer.alloc(110 * 1024 * 1024) });
    const path = await file(fnZip);
    const total = 150 * 1024 * 1024 + 110 * 1024 * 1024 + Buffer.byteLength('exports.handler = async () => 1;\n');
    await fails(['create-function', '--function-name', 'too-big', '--runtime', 'nodejs20.x', '--handler', 'index.handler', '--role', ROLE,
      '--zip-file', `fileb://${path}`, '--layers', big.LayerVersionArn], 'InvalidParameterValueException',
    `Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is ${total} bytes.`);
    await ok(['create-function', '--function-name', 'too-big', '--runtime', 'nodejs20.x', '--handler', 'index.handler', '--role', ROLE, '--zip-file', `fileb://${path}`]);
    await fails(['update-function-configuration', '--function-name', 'too-big', '--layers', big.LayerVersionArn], 'InvalidParameterValueException', /Function code combined with layers exceeds/);
  });
});

describe('layers across accounts', () => {
  it('lets another account use or read a version only once its owner grants it', async () => {
    const v = await publish('private', await moduleZip('mine'));
    const otherFn = async () => ['create-function', '--function-name', 'borrower', '--runtime', 'nodejs20.x', '--handler', 'index.handler', '--role', ROLE,
      '--zip-file', `fileb://${await file(await functionZip())}`, '--layers', v.LayerVersionArn];
    const denied = `User: arn:aws:iam::${other.AccountId}:root is not authorized to perform: lambda:GetLayerVersion on resource: ${v.LayerVersionArn}`;
    await fails(await otherFn(), 'AccessDeniedException', `${denied} because no resource-based policy allows the lambda:GetLayerVersion action`, other);
    await fails(['get-layer-version-by-arn', '--arn', v.LayerVersionArn], 'AccessDeniedException', denied, other);
    await fails(['get-layer-version', '--layer-name', v.LayerArn, '--version-number', '1'], 'AccessDeniedException', denied, other);
    // A grant to a third account, or to an organization (Stratus has none), does not open it.
    const base = ['--layer-name', 'private', '--version-number', String(v.Version), '--action', 'lambda:GetLayerVersion'];
    await ok(['add-layer-version-permission', ...base, '--statement-id', 'third', '--principal', '123456789012']);
    await ok(['add-layer-version-permission', ...base, '--statement-id', 'org', '--principal', '*', '--organization-id', 'o-abcdefghij']);
    await fails(await otherFn(), 'AccessDeniedException', undefined, other);
    // The other account cannot manage it either, nor see it in its lists.
    await fails(['delete-layer-version', '--layer-name', v.LayerArn, '--version-number', '1'], 'AccessDeniedException', undefined, other);
    await fails(['add-layer-version-permission', ...base.map((x) => (x === 'private' ? v.LayerArn : x)), '--statement-id', 'me', '--principal', other.AccountId],
      'AccessDeniedException', undefined, other);
    await fails(['list-layer-versions', '--layer-name', v.LayerArn], 'AccessDeniedException', undefined, other);
    assert.deepEqual((await ok(['list-layers'], other)).Layers, []);

    await ok(['add-layer-version-permission', ...base, '--statement-id', 'borrower', '--principal', other.AccountId]);
    const fn = await ok(await otherFn(), other);
    assert.deepEqual(fn.Layers, [{ Arn: v.LayerVersionArn, CodeSize: v.Content.CodeSize }]);
    assert.equal((await ok(['get-layer-version-by-arn', '--arn', v.LayerVersionArn], other)).Version, v.Version);
    // A grant covers one version only.
    const v2 = await publish('private', await moduleZip('mine too'));
    await fails(['update-function-configuration', '--function-name', 'borrower', '--layers', v2.LayerVersionArn], 'AccessDeniedException', undefined, other);
    // The layer's name in the other account is its own (empty) layer.
    await fails(['get-layer-version', '--layer-name', 'private', '--version-number', '1'], 'ResourceNotFoundException', undefined, other);
  });
});
