// The commands for people: `stratus deploy DIR`, `stratus invoke NAME`, `stratus logs tail NAME
// [--follow]`, `stratus top`, run as a user runs them (their own process, signing with their key) against a
// real `stratus up`.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { clientFor, createAccount, keyOf, type Key } from '../helpers/accounts.js';
import { createInput } from '../helpers/lambda-api.js';
import { makeZip } from '../helpers/zip.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { until } from '../helpers/wait.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

const handler = (reply: string) => `export const handler = async (event) => {
  console.log('handling', JSON.stringify(event));
  return { reply: ${JSON.stringify(reply)}, got: event };
};\n`;

describe('stratus deploy, invoke and logs tail', () => {
  let s: StratusProcess;
  let dir: string;
  let key: Key;
  const env = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey, STRATUS_ENDPOINT: s.url });
  const stratus = (...args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: env(), maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });

  before(async () => {
    s = await startStratus({ args: ['--function-logs', 'store'] });
    key = keyOf(await createAccount(s.url, s.credentials, 'cli-user'));
    dir = await mkdtemp(join(tmpdir(), 'stratus-cli-'));
    await writeFile(join(dir, 'index.mjs'), handler('first'));
    // Large enough for the progress bar (and incompressible).
    await writeFile(join(dir, 'blob.bin'), randomBytes(3 * 1024 * 1024));
  });
  after(async () => {
    await s?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('deploy zips a directory with a progress bar and creates the function, then updates its code', async () => {
    const created = await stratus('deploy', dir, '--name', 'cli-fn');
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout.trim(), /^arn:aws:lambda:us-east-1:\d{12}:function:cli-fn$/);
    assert.match(created.stderr, /Zipping \[.*\] 100%/);
    assert.match(created.stderr, /Uploading 3\.\d MiB to cli-fn/);
    const first = await stratus('invoke', 'cli-fn', '--payload', '{"n":1}');
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout), { reply: 'first', got: { n: 1 } });
    assert.match(first.stderr, /handling \{"n":1\}/, 'the log tail goes to stderr');
    assert.match(first.stderr, /REPORT RequestId: /);

    await writeFile(join(dir, 'index.mjs'), handler('second'));
    const updated = await stratus('deploy', dir, '--name', 'cli-fn', '--memory-mb', '256');
    assert.equal(updated.code, 0, updated.stderr);
    const second = await stratus('invoke', 'cli-fn', '--payload', '{"n":2}');
    assert.deepEqual(JSON.parse(second.stdout), { reply: 'second', got: { n: 2 } });
  });

  test('invoke of a function that fails exits 1 with the error document; a missing one says ResourceNotFoundException', async () => {
    await writeFile(join(dir, 'index.mjs'), 'export const handler = async () => { throw new Error("boom"); };\n');
    assert.equal((await stratus('deploy', dir, '--name', 'cli-fails')).code, 0);
    const failed = await stratus('invoke', 'cli-fails');
    assert.equal(failed.code, 1);
    assert.equal(JSON.parse(failed.stdout).errorMessage, 'boom');
    const missing = await stratus('invoke', 'no-such-fn');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^ResourceNotFoundException: /);
  });

  test('logs tail prints what a function logged; --follow shows a new invocation live', async () => {
    const past = await stratus('logs', 'tail', 'cli-fn');
    assert.equal(past.code, 0, past.stderr);
    assert.match(past.stdout, /^\S+Z \d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32} START RequestId: /m);
    assert.match(past.stdout, /handling \{"n":2\}/);

    const child = spawn(process.execPath, [MAIN, 'logs', 'tail', 'cli-fn', '--follow'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await until(() => /handling \{"n":2\}/.test(out), 'the tail to print the past');
      assert.equal((await stratus('invoke', 'cli-fn', '--payload', '{"live":true}')).code, 0);
      await until(() => /handling \{"live":true\}/.test(out), 'the live invocation to appear');
      assert.equal(out.match(/handling \{"n":2\}/g)?.length, 1, 'no event is printed twice while following');
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('stratus top', () => {
  let s: StratusProcess;
  before(async () => {
    s = await startStratus();
  });
  after(async () => {
    await s?.stop();
  });
  const top = (key: Key) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [MAIN, 'top', '--once', '--endpoint-url', s.url], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey },
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });

  test("shows the account's functions with their last minute and their live environments, and only the account's", async () => {
    const mine = await createAccount(s.url, s.credentials, 'top-user');
    const other = await createAccount(s.url, s.credentials, 'top-other');
    const zip = await makeZip({ 'index.mjs': handler('top') });
    for (const [account, name] of [[mine, 'top-fn'], [other, 'their-fn']] as const) {
      const lambda = clientFor(s.url, keyOf(account));
      await lambda.send(new CreateFunctionCommand(createInput(name, zip, { Handler: 'index.handler' })));
      await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from('{}') }));
    }
    let screen = '';
    // The console's charts count per sampling interval: wait for the invoke to be counted.
    for (let i = 0; i < 150 && !/^top-fn\s+1\s+0\s+0\s+1\s+1 (idle|frozen)$/m.test(screen); i++) {
      const r = await top(keyOf(mine));
      assert.equal(r.code, 0, r.stderr);
      screen = r.stdout;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.match(screen, new RegExp(`^stratus top: account ${mine.AccountId}, `, 'm'));
    assert.match(screen, /^top-fn\s+1\s+0\s+0\s+1\s+1 (idle|frozen)$/m, screen);
    assert.match(screen, /^worker-1\s+top-fn\s+\$LATEST\s+(idle|frozen)\s+128 MB\s+\d+s$/m);
    assert.doesNotMatch(screen, /their-fn/, "another account's functions and environments are not shown");
    const admin = await top(s.credentials);
    assert.match(admin.stdout, new RegExp(`^worker-1\\s+${other.AccountId}/their-fn\\s`, 'm'), 'the administrator sees every account');
  });

  test('a wrong secret is refused', async () => {
    const r = await top({ accessKeyId: s.credentials.accessKeyId, secretAccessKey: 'wrong' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /signing in to http:\/\/127\.0\.0\.1:\d+ failed: The access key id or secret is not valid\./);
  });
});
