// Function errors as Lambda reports them: status 200, X-Amz-Function-Error Unhandled and a JSON
// error document; the sandbox is replaced when it died, and the platform keeps serving.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateFunctionCommand, InvokeCommand, type CreateFunctionCommandInput, type InvokeCommandInput } from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { isAlive, startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';

/** One handler for every failure mode, chosen by the event; `id` names the sandbox. */
const MISBEHAVING = `const id = require('crypto').randomUUID();
exports.handler = async (event) => {
  if (event.throw) throw new Error(event.throw);
  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  if (event.exit !== undefined) process.exit(event.exit);
  if (event.bytes) return 'x'.repeat(event.bytes - 2);
  return { ok: true, id };
};`;

let stratus: StratusProcess;
let workDir: string;

async function createFunction(name: string, files: Record<string, string>, opts: Partial<CreateFunctionCommandInput> = {}): Promise<void> {
  await stratus.lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: await makeZip(files) }, ...opts,
  }));
}

async function invoke(name: string, event: unknown, extra: Partial<InvokeCommandInput> = {}) {
  const pending = stratus.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)), ...extra }));
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`invoke of ${name} hung`)), 30_000)));
  const out = await Promise.race([pending, hang]).finally(() => clearTimeout(timer));
  const payload = Buffer.from(out.Payload ?? new Uint8Array());
  const text = payload.toString('utf8');
  return { out, size: payload.length, json: JSON.parse(text) as Record<string, unknown>, requestId: out.$metadata.requestId ?? '' };
}

/** An invoke that must fail with an Unhandled function error; returns the error document. */
async function invokeFailing(name: string, event: unknown, extra: Partial<InvokeCommandInput> = {}) {
  const res = await invoke(name, event, extra);
  assert.equal(res.out.StatusCode, 200);
  assert.equal(res.out.FunctionError, 'Unhandled');
  assert.equal(res.out.ExecutedVersion, '$LATEST');
  return res;
}

async function okId(name: string): Promise<string> {
  const { out, json } = await invoke(name, {});
  assert.equal(out.FunctionError, undefined, `expected success, got ${JSON.stringify(json)}`);
  assert.equal(json.ok, true);
  return String(json.id);
}

/** Host pids that appear while `fn` runs. */
async function newPids<T>(fn: () => Promise<T>): Promise<{ result: T; pids: number[] }> {
  const before = new Set(await stratus.descendants());
  const result = await fn();
  return { result, pids: (await stratus.descendants()).filter((pid) => !before.has(pid)) };
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('function errors', () => {
  before(async () => {
    stratus = await startStratus();
    workDir = await mkdtemp(join(tmpdir(), 'stratus-invoke-errors-'));
    await createFunction('err-throw', { 'index.js': MISBEHAVING });
    await createFunction('err-timeout', { 'index.js': MISBEHAVING }, { Timeout: 1 });
    await createFunction('err-exit', { 'index.js': MISBEHAVING });
    await createFunction('err-big', { 'index.js': MISBEHAVING }, { MemorySize: 512 });
    await createFunction('err-import', { 'index.js': `require('no-such-package'); exports.handler = async () => 1;` });
    await createFunction('err-no-handler', { 'index.js': 'exports.other = async () => 1;' });
    await createFunction('err-syntax', { 'index.js': 'exports.handler = async () => { return {; };' });
  });

  after(async () => {
    await stratus?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  test('a thrown Error gives errorType, errorMessage and trace; the sandbox stays warm', async () => {
    const before = await okId('err-throw');
    const { json } = await invokeFailing('err-throw', { throw: 'boom 42' });
    assert.equal(json.errorType, 'Error');
    assert.equal(json.errorMessage, 'boom 42');
    assert.ok(Array.isArray(json.trace), 'trace is not an array');
    const trace = json.trace as string[];
    assert.equal(trace[0], 'Error: boom 42');
    assert.ok(trace.some((l) => l.includes('/var/task/index.js')), `trace does not point into the function: ${trace.join('\n')}`);
    assert.equal(await okId('err-throw'), before, 'a handled function error cost the warm sandbox');
  });

  test('the AWS CLI reports FunctionError Unhandled and writes the error document', async () => {
    const outFile = join(workDir, 'cli-error.json');
    const res = await aws(stratus, ['lambda', 'invoke', '--function-name', 'err-throw', '--payload', '{"throw":"from cli"}', outFile]);
    assert.equal(res.code, 0, res.stderr);
    const meta = JSON.parse(res.stdout) as Record<string, unknown>;
    assert.equal(meta.StatusCode, 200);
    assert.equal(meta.FunctionError, 'Unhandled');
    const doc = JSON.parse(await readFile(outFile, 'utf8')) as Record<string, unknown>;
    assert.equal(doc.errorType, 'Error');
    assert.equal(doc.errorMessage, 'from cli');
  });

  test('a timeout gives Sandbox.Timedout, kills the sandbox, and the next invoke gets a fresh one', async () => {
    const { result: firstId, pids } = await newPids(() => okId('err-timeout'));
    assert.ok(pids.length > 0, 'no sandbox processes appeared');
    const { json, requestId, out } = await invokeFailing('err-timeout', { sleepMs: 5000 }, { LogType: 'Tail' });
    assert.deepEqual(json, { errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${requestId} Error: Task timed out after 1.00 seconds` });
    const log = Buffer.from(out.LogResult ?? '', 'base64').toString('utf8');
    assert.match(log, new RegExp(`${requestId} Task timed out after 1\\.00 seconds`));
    assert.match(log, new RegExp(`REPORT RequestId: ${requestId}\\t.*\\tStatus: timeout`));
    await waitFor('the timed-out sandbox to be killed', () => pids.every((pid) => !isAlive(pid)));
    const nextId = await okId('err-timeout');
    assert.notEqual(nextId, firstId, 'the timed-out sandbox served the next invoke');
  });

  test('process.exit(3) gives Runtime.ExitError with the exit status; the next invoke works', async () => {
    const { result: firstId, pids } = await newPids(() => okId('err-exit'));
    const { json, requestId } = await invokeFailing('err-exit', { exit: 3 });
    assert.equal(json.errorType, 'Runtime.ExitError');
    assert.equal(json.errorMessage, `RequestId: ${requestId} Error: Runtime exited with error: exit status 3`);
    await waitFor('the exited sandbox to be gone', () => pids.every((pid) => !isAlive(pid)));
    const nextId = await okId('err-exit');
    assert.notEqual(nextId, firstId);
  });

  test('a response over 6 MB gives Function.ResponseSizeTooLarge; exactly 6 MB is returned intact', async () => {
    const { json } = await invokeFailing('err-big', { bytes: 6 * 1024 * 1024 + 101 });
    assert.deepEqual(json, {
      errorType: 'Function.ResponseSizeTooLarge',
      errorMessage: 'Response payload size exceeded maximum allowed payload size (6291556 bytes).',
    });
    const ok = await invoke('err-big', { bytes: 6 * 1024 * 1024 });
    assert.equal(ok.out.FunctionError, undefined);
    assert.equal(ok.size, 6 * 1024 * 1024);
    assert.equal(await okId('err-big').then((id) => id.length), 36);
  });

  const initErrors: Array<{ fn: string; errorType: string; message: (m: string) => boolean; what: string }> = [
    { fn: 'err-import', errorType: 'Runtime.ImportModuleError', what: 'a missing module', message: (m) => m.includes("Cannot find module 'no-such-package'") },
    { fn: 'err-no-handler', errorType: 'Runtime.HandlerNotFound', what: 'a handler that is not exported', message: (m) => m === 'index.handler is undefined or not exported' },
    { fn: 'err-syntax', errorType: 'Runtime.UserCodeSyntaxError', what: 'a syntax error', message: (m) => m.startsWith('SyntaxError: ') },
  ];
  for (const c of initErrors) {
    test(`init failure on ${c.what} gives ${c.errorType}, again on retry, leaving no sandbox behind`, async () => {
      const before = new Set(await stratus.descendants());
      for (const attempt of [1, 2]) {
        const { json } = await invokeFailing(c.fn, {});
        assert.equal(json.errorType, c.errorType, `attempt ${attempt}: ${JSON.stringify(json)}`);
        assert.ok(c.message(String(json.errorMessage)), `attempt ${attempt}: unexpected errorMessage ${JSON.stringify(json.errorMessage)}`);
        assert.ok(Array.isArray(json.trace), `attempt ${attempt}: no trace`);
      }
      await waitFor('failed sandboxes to be cleaned up', async () => (await stratus.descendants()).every((pid) => before.has(pid)));
    });
  }

  test('after all these errors the platform still serves invokes', async () => {
    const ids = await Promise.all(['err-throw', 'err-timeout', 'err-exit', 'err-big'].map((fn) => okId(fn)));
    assert.equal(new Set(ids).size, 4);
  });
});
