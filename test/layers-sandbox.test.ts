// Layers inside real sandboxes of a real `stratus up` (bubblewrap, and gVisor where runsc is
// installed): a Node.js and a Python function import modules from their layers (a later layer's
// file over an earlier one's), /opt/bin is on PATH, and /opt is read-only; each layer is built once
// per account on the worker and shared by functions and environments; published versions keep
// their layers; a deleted layer version keeps working for the functions that use it; and a
// function cannot reach another function's layers through the worker's cache.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AddLayerVersionPermissionCommand, CreateFunctionCommand, DeleteLayerVersionCommand, InvokeCommand, LambdaClient, PublishLayerVersionCommand,
  PublishVersionCommand, UpdateFunctionConfigurationCommand, type CreateFunctionCommandInput,
} from '@aws-sdk/client-lambda';
import { clientFor, createAccount, keyOf, type AccountKey } from './helpers/accounts.js';
import { startStratus, type StratusProcess } from './helpers/stratus.js';
import { makeZip } from './helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/lambda-role';
const NO_RUNSC = existsSync('/usr/bin/runsc') ? false : 'runsc is not installed (scripts/setup.sh installs it)';
const READ_ONLY = ['EROFS', 'EACCES', 'EPERM'];

const NODE = `const fs = require('fs'), cp = require('child_process');
const attempt = (f) => { try { f(); return 'DONE'; } catch (e) { return e.code || String(e); } };
exports.handler = async (event) => ({
  greet: attempt(() => require('greet')) === 'DONE' ? require('greet') : 'missing',
  which: attempt(() => require('which-layer')) === 'DONE' ? require('which-layer') : 'missing',
  tool: attempt(() => cp.execSync('layer-tool')) === 'DONE' ? cp.execSync('layer-tool', { encoding: 'utf8' }).trim() : 'missing',
  overwrite: attempt(() => fs.writeFileSync('/opt/nodejs/node_modules/greet/index.js', 'module.exports = "pwned";')),
  create: attempt(() => fs.writeFileSync('/opt/new-file', 'x')),
  mkdir: attempt(() => fs.mkdirSync('/opt/nodejs/evil')),
  remove: attempt(() => fs.unlinkSync('/opt/bin/layer-tool')),
  chmod: attempt(() => fs.chmodSync('/opt/bin/layer-tool', 0o777)),
  opt: attempt(() => fs.readdirSync('/opt')) === 'DONE' ? fs.readdirSync('/opt') : [],
  cache: event.cache ? attempt(() => fs.readdirSync(event.cache)) : null,
  cacheFile: event.cacheFile ? attempt(() => fs.readFileSync(event.cacheFile)) : null,
  mountinfo: fs.readFileSync('/proc/self/mountinfo', 'utf8'),
});\n`;

const PYTHON = `import os
def handler(event, context):
    import greet_py, which_py, sitepkg_mod
    try:
        open('/opt/python/pwned.py', 'w').write('x')
        write = 'DONE'
    except OSError as e:
        write = e.strerror
    return {"greet": greet_py.GREETING, "which": which_py.WHO, "site": sitepkg_mod.X, "write": write}
`;

let stratus: StratusProcess;
let other: AccountKey;
let otherClient: LambdaClient;
const arns: Record<string, string> = {};

async function publish(client: LambdaClient, name: string, files: Record<string, string>, modes: Record<string, number> = {}): Promise<string> {
  const out = await client.send(new PublishLayerVersionCommand({ LayerName: name, Content: { ZipFile: await makeZip(files, modes) } }));
  return out.LayerVersionArn ?? '';
}

async function create(client: LambdaClient, input: Partial<CreateFunctionCommandInput> & { FunctionName: string }, code: string, file = 'index.js'): Promise<void> {
  await client.send(new CreateFunctionCommand({
    Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: await makeZip({ [file]: code }) }, ...input,
  }));
}

async function invoke(client: LambdaClient, name: string, event: unknown = {}): Promise<Record<string, any>> {
  const out = await client.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }));
  const text = Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8');
  assert.equal(out.FunctionError, undefined, text);
  return JSON.parse(text) as Record<string, any>;
}

/** What every function with layers first..second sees. */
function assertLayered(r: Record<string, any>, which = 'second'): void {
  assert.equal(r.greet, 'hello from the first layer');
  assert.equal(r.which, which);
  assert.equal(r.tool, 'tool from a layer');
  for (const key of ['overwrite', 'create', 'mkdir', 'remove', 'chmod']) assert.ok(READ_ONLY.includes(r[key]), `${key} into /opt: ${r[key]}`);
  assert.ok(!r.mountinfo.includes(stratus.dataDir), 'no host path in mountinfo');
}

const layersDir = () => join(stratus.dataDir, 'worker', 'layers');

before(async () => {
  stratus = await startStratus();
  other = await createAccount(stratus.url, stratus.credentials, 'neighbour');
  otherClient = clientFor(stratus.url, keyOf(other));
  const lambda = stratus.lambda;
  arns.first = await publish(lambda, 'first', {
    'nodejs/node_modules/greet/index.js': 'module.exports = "hello from the first layer";\n',
    'nodejs/node_modules/which-layer/index.js': 'module.exports = "first";\n',
    'bin/layer-tool': '#!/bin/sh\necho tool from a layer\n',
  }, { 'bin/layer-tool': 0o100755 });
  arns.second = await publish(lambda, 'second', { 'nodejs/node_modules/which-layer/index.js': 'module.exports = "second";\n' });
  arns.py1 = await publish(lambda, 'py-first', {
    'python/greet_py.py': 'GREETING = "hello from a python layer"\n',
    'python/which_py.py': 'WHO = "first"\n',
    'python/lib/python3.11/site-packages/sitepkg_mod.py': 'X = "site-packages"\n',
  });
  arns.py2 = await publish(lambda, 'py-second', { 'python/which_py.py': 'WHO = "second"\n' });
});

after(async () => {
  otherClient?.destroy();
  await stratus?.stop();
});

describe('layers in the sandbox', () => {
  it('a Node.js function imports from its layers (the later one wins), runs /opt/bin, and cannot write /opt', async () => {
    await create(stratus.lambda, { FunctionName: 'node-layers', Layers: [arns.first ?? '', arns.second ?? ''] }, NODE);
    assertLayered(await invoke(stratus.lambda, 'node-layers'));
    // Read-only for good: a second invoke in the same environment sees the layer's own file.
    assertLayered(await invoke(stratus.lambda, 'node-layers'));
    await create(stratus.lambda, { FunctionName: 'node-reversed', Layers: [arns.second ?? '', arns.first ?? ''] }, NODE);
    assertLayered(await invoke(stratus.lambda, 'node-reversed'), 'first');
  });

  it('a Python function imports from /opt/python and its site-packages, a later layer over an earlier one', async () => {
    await create(stratus.lambda, { FunctionName: 'py-layers', Runtime: 'python3.11', Handler: 'app.handler', Layers: [arns.py1 ?? '', arns.py2 ?? ''] }, PYTHON, 'app.py');
    const r = await invoke(stratus.lambda, 'py-layers');
    assert.deepEqual({ ...r, write: undefined }, { greet: 'hello from a python layer', which: 'second', site: 'site-packages', write: undefined });
    assert.match(String(r.write), /Read-only file system|Permission denied/);
  });

  it('builds each layer once per account: functions and environments share it, nothing is copied per environment', async () => {
    await create(stratus.lambda, { FunctionName: 'node-layers-2', Layers: [arns.first ?? '', arns.second ?? ''] }, NODE);
    await Promise.all([1, 2, 3].map(() => invoke(stratus.lambda, 'node-layers-2', { hold: true })));
    const versions = readdirSync(join(layersDir(), 'versions', '000000000000'));
    assert.equal(versions.length, 4, `one image per layer version: ${versions.join(', ')}`);
    // Three ordered sets: first+second, second+first, py-first+py-second.
    assert.equal(readdirSync(join(layersDir(), 'sets', '000000000000')).length, 3);
  });

  it('published versions keep their layers; a deleted layer version keeps working for its functions', async () => {
    const v1 = await stratus.lambda.send(new PublishVersionCommand({ FunctionName: 'node-layers' }));
    await stratus.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'node-layers', Layers: [arns.first ?? ''] }));
    assert.equal((await invoke(stratus.lambda, `node-layers:${v1.Version}`)).which, 'second');
    assert.equal((await invoke(stratus.lambda, 'node-layers')).which, 'first');
    await stratus.lambda.send(new DeleteLayerVersionCommand({ LayerName: 'second', VersionNumber: 1 }));
    // A configuration change retires the environments: the next invoke starts a new sandbox.
    await stratus.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'node-layers-2', Description: 'after the delete' }));
    assertLayered(await invoke(stratus.lambda, 'node-layers-2'));
    assertLayered(await invoke(stratus.lambda, `node-layers:${v1.Version}`));
  });
});

describe('attacks on layers', () => {
  it('a function without layers, of the same or another account, sees no layer and cannot reach the worker cache', async () => {
    const versions = join(layersDir(), 'versions', '000000000000');
    const digest = readdirSync(versions)[0] ?? '';
    const cacheFile = join(versions, digest, 'code.erofs');
    await create(stratus.lambda, { FunctionName: 'no-layers' }, NODE);
    await create(otherClient, { FunctionName: 'outsider' }, NODE);
    for (const [client, name] of [[stratus.lambda, 'no-layers'], [otherClient, 'outsider']] as const) {
      const r = await invoke(client, name, { cache: layersDir(), cacheFile });
      assert.equal(r.greet, 'missing');
      assert.equal(r.which, 'missing');
      assert.deepEqual(r.opt, []);
      assert.equal(r.cache, 'ENOENT');
      assert.equal(r.cacheFile, 'ENOENT');
      assert.ok(!r.mountinfo.includes(stratus.dataDir));
      assert.ok(!r.mountinfo.includes(digest), 'no layer of another function in its mounts');
    }
  });

  it('a granted account gets its own copy of the layer, never the owner\'s files', async () => {
    await stratus.lambda.send(new AddLayerVersionPermissionCommand({
      LayerName: 'first', VersionNumber: 1, StatementId: 'neighbour', Action: 'lambda:GetLayerVersion', Principal: other.AccountId,
    }));
    await create(otherClient, { FunctionName: 'borrower', Layers: [arns.first ?? ''] }, NODE);
    const r = await invoke(otherClient, 'borrower', { cache: join(layersDir(), 'versions', '000000000000') });
    assert.equal(r.greet, 'hello from the first layer');
    assert.equal(r.which, 'first');
    assert.equal(r.cache, 'ENOENT');
    assert.ok(existsSync(join(layersDir(), 'versions', other.AccountId)), 'the borrower\'s account has its own layer image');
  });

  it('gVisor sandboxes get the same read-only /opt', { skip: NO_RUNSC }, async () => {
    const second = await publish(stratus.lambda, 'second', { 'nodejs/node_modules/which-layer/index.js': 'module.exports = "second";\n' });
    await create(stratus.lambda, { FunctionName: 'gvisor-layers', Layers: [arns.first ?? '', second], Tags: { 'stratus:sandbox': 'gvisor' } }, NODE);
    const r = await invoke(stratus.lambda, 'gvisor-layers');
    assert.equal(r.greet, 'hello from the first layer');
    assert.equal(r.which, 'second');
    assert.equal(r.tool, 'tool from a layer');
    for (const key of ['overwrite', 'create', 'mkdir', 'remove', 'chmod']) assert.ok(READ_ONLY.includes(r[key]), `${key} into /opt under gVisor: ${r[key]}`);
  });
});
