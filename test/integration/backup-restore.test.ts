// `stratus backup` of a real `stratus up` while it serves creates and invokes, then `stratus
// restore` into a fresh data directory and a new `stratus up` on it: functions, versions, aliases,
// layers, function URLs, accounts and their keys, stored logs all come back (through the real AWS
// CLI), invokes answer as before, and every function created before the backup began is there.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { createAccount, keyOf, type AccountKey } from '../helpers/accounts.js';
import { aws } from '../helpers/aws-cli.js';
import { stratusCommand } from '../helpers/backup.js';
import { createInput } from '../helpers/lambda-api.js';
import { eventsOnce } from '../helpers/logs-cli.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ALPHA = `const greet = require('greet');
exports.handler = async (event, context) => {
  console.log('alpha saw ' + event.tag);
  return { greeting: greet, tag: event.tag, version: context.functionVersion };
};\n`;
const BETA = `exports.handler = async (event) => { console.log('beta saw ' + event.tag); return { beta: true, doubled: event.n * 2 }; };\n`;
const WEB = `exports.handler = async () => ({ statusCode: 200, body: 'web is up' });\n`;

describe('stratus backup and restore', () => {
  let dir: string;
  let original: StratusProcess;
  let restored: StratusProcess | undefined;
  let second: AccountKey;
  let files = 0;

  const file = async (bytes: Buffer) => {
    const path = join(dir, `f${files++}.zip`);
    await writeFile(path, bytes);
    return path;
  };
  /** `aws lambda ...` as the administrator (or `as`), expecting success: its JSON output. */
  const lambda = async (s: StratusProcess, args: string[], as?: AccountKey): Promise<Record<string, any>> => {
    const r = await aws(s, ['lambda', ...args], as ? { credentials: keyOf(as) } : {});
    assert.equal(r.code, 0, `aws lambda ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, any>) : {};
  };
  const invoke = async (s: StratusProcess, fn: string, payload: object, as?: AccountKey): Promise<unknown> => {
    const out = join(dir, `out-${files++}.json`);
    await lambda(s, ['invoke', '--function-name', fn, '--payload', JSON.stringify(payload), out], as);
    return JSON.parse(await readFile(out, 'utf8')) as unknown;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stratus-backup-'));
    original = await startStratus();
    second = await createAccount(original.url, original.credentials, 'second');
  });

  after(async () => {
    await restored?.stop();
    await original?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('an online backup restores onto a fresh data directory: everything there, invokes answer the same, logs readable', async () => {
    const layer = await lambda(original, ['publish-layer-version', '--layer-name', 'greeter', '--compatible-runtimes', 'nodejs20.x',
      '--zip-file', `fileb://${await file(await makeZip({ 'nodejs/node_modules/greet/index.js': 'module.exports = "hello from the layer";\n' }))}`]);
    await lambda(original, ['create-function', '--function-name', 'alpha', '--runtime', 'nodejs20.x', '--handler', 'index.handler',
      '--role', 'arn:aws:iam::000000000000:role/r', '--layers', layer.LayerVersionArn, '--zip-file', `fileb://${await file(await makeZip({ 'index.js': ALPHA }))}`]);
    const version = await lambda(original, ['publish-version', '--function-name', 'alpha']);
    await lambda(original, ['create-alias', '--function-name', 'alpha', '--name', 'live', '--function-version', version.Version]);
    await lambda(original, ['create-function', '--function-name', 'web', '--runtime', 'nodejs20.x', '--handler', 'index.handler',
      '--role', 'arn:aws:iam::000000000000:role/r', '--zip-file', `fileb://${await file(await makeZip({ 'index.js': WEB }))}`]);
    const url = await lambda(original, ['create-function-url-config', '--function-name', 'web', '--auth-type', 'NONE']);
    await lambda(original, ['add-permission', '--function-name', 'web', '--statement-id', 'public', '--action', 'lambda:InvokeFunctionUrl',
      '--principal', '*', '--function-url-auth-type', 'NONE']);
    await lambda(original, ['create-function', '--function-name', 'beta', '--runtime', 'nodejs20.x', '--handler', 'index.handler',
      '--role', `arn:aws:iam::${second.AccountId}:role/r`, '--zip-file', `fileb://${await file(await makeZip({ 'index.js': BETA }))}`], second);
    const alphaBefore = await invoke(original, 'alpha:live', { tag: 'before-backup' });
    assert.deepEqual(alphaBefore, { greeting: 'hello from the layer', tag: 'before-backup', version: '1' });
    const betaBefore = await invoke(original, 'beta', { tag: 'b', n: 21 }, second);
    assert.deepEqual(betaBefore, { beta: true, doubled: 42 });
    await eventsOnce(original, '/aws/lambda/alpha', (m) => m.some((x) => x.includes('alpha saw before-backup')));
    await eventsOnce(original, '/aws/lambda/beta', (m) => m.some((x) => x.includes('beta saw b')), keyOf(second));

    // Writers keep going while the backup runs: new functions (each with its own code blob) and invokes.
    const createdBeforeBackup: string[] = [];
    const createdAfterStart: string[] = [];
    const churn = { stop: false, backupStarted: false, errors: [] as unknown[] };
    const loop = (async () => {
      for (let i = 0; !churn.stop; i++) {
        const name = `churn-${i}`;
        try {
          await original.lambda.send(new CreateFunctionCommand(createInput(name, await makeZip({ 'index.js': `exports.handler = async () => ${i};\n` }))));
          // Acknowledged before the backup began (the flag is set just before it starts), or not.
          (churn.backupStarted ? createdAfterStart : createdBeforeBackup).push(name);
          await original.lambda.send(new InvokeCommand({ FunctionName: 'alpha', Payload: Buffer.from(JSON.stringify({ tag: name })) }));
        } catch (err) {
          churn.errors.push(err);
        }
      }
    })();
    while (createdBeforeBackup.length < 3) await new Promise((r) => setTimeout(r, 50));
    churn.backupStarted = true;
    const archive = join(dir, 'stratus.backup');
    const backedUp = await stratusCommand(['backup', archive, '--data-dir', original.dataDir]);
    churn.stop = true;
    await loop;
    assert.equal(backedUp.code, 0, backedUp.stderr);
    assert.deepEqual(churn.errors, [], 'the installation served throughout the backup');
    assert.match(backedUp.stdout, /Backed up .* to .*stratus\.backup/);
    assert.equal((await stat(archive)).mode & 0o777, 0o600, 'the archive holds secrets: only its owner reads it');
    assert.deepEqual(await readdir(join(original.dataDir, 'gc-hold')), [], 'the backup released its hold on code collection');
    await original.stop();

    const dataDir = join(dir, 'restored-data');
    const r = await stratusCommand(['restore', archive, '--data-dir', dataDir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    restored = await startStratus({ dataDir, credentials: original.credentials });
    const s = restored;
    // Logs written before the backup are readable on the restored installation (before anything runs on it).
    const logged = await eventsOnce(s, '/aws/lambda/alpha', (m) => m.some((x) => x.includes('alpha saw before-backup')), undefined);
    assert.ok(logged.some((e) => e.message.includes('alpha saw before-backup')));
    await eventsOnce(s, '/aws/lambda/beta', (m) => m.some((x) => x.includes('beta saw b')), keyOf(second));

    const names = (await lambda(s, ['list-functions'])).Functions.map((f: { FunctionName: string }) => f.FunctionName) as string[];
    for (const name of ['alpha', 'web', ...createdBeforeBackup]) assert.ok(names.includes(name), `${name} was created before the backup began`);
    assert.deepEqual((await lambda(s, ['list-versions-by-function', '--function-name', 'alpha'])).Versions.map((v: { Version: string }) => v.Version), ['$LATEST', '1']);
    assert.equal((await lambda(s, ['get-alias', '--function-name', 'alpha', '--name', 'live'])).FunctionVersion, '1');
    const layers = await lambda(s, ['list-layer-versions', '--layer-name', 'greeter']);
    assert.deepEqual(layers.LayerVersions.map((v: { LayerVersionArn: string }) => v.LayerVersionArn), [layer.LayerVersionArn]);
    const got = await lambda(s, ['get-function-url-config', '--function-name', 'web']);
    assert.deepEqual([got.AuthType, got.CreationTime], ['NONE', url.CreationTime]);
    const web = await fetch(`${s.url}/lambda-url/000000000000/web/`);
    assert.deepEqual([web.status, await web.text()], [200, 'web is up']);

    // The second account and its key came back: it signs, and sees only its own function.
    assert.deepEqual((await lambda(s, ['list-functions'], second)).Functions.map((f: { FunctionName: string }) => f.FunctionName), ['beta']);
    assert.deepEqual(await invoke(s, 'beta', { tag: 'b', n: 21 }, second), betaBefore);
    assert.deepEqual(await invoke(s, 'alpha:live', { tag: 'before-backup' }), alphaBefore);
    for (const name of createdBeforeBackup.slice(0, 3)) {
      assert.equal(await invoke(s, name, {}), Number(name.slice('churn-'.length)));
    }
  });
});
