// Warm reuse, concurrency, keep-alive reaping and code/configuration updates: which sandbox an
// invoke lands in, observed through a module-level random id that each sandbox draws once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateFunctionCommand, InvokeCommand, UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand,
  type CreateFunctionCommandInput,
} from '@aws-sdk/client-lambda';
import { isAlive, startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';

/** Module scope runs once per sandbox: `id` names the sandbox, `count` its invocations. */
function sandboxProbe(codeVersion: number): string {
  return `const id = require('crypto').randomUUID(); let count = 0;
exports.handler = async (event, context) => {
  count++;
  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  return { id, count, codeVersion: ${codeVersion}, greeting: process.env.GREETING ?? null, memory: context.memoryLimitInMB };
};`;
}

interface Probe {
  id: string;
  count: number;
  codeVersion: number;
  greeting: string | null;
  memory: string;
}

async function createFunction(s: StratusProcess, name: string, opts: Partial<CreateFunctionCommandInput> = {}): Promise<void> {
  await s.lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler',
    Code: { ZipFile: await makeZip({ 'index.js': sandboxProbe(1) }) }, ...opts,
  }));
}

async function probe(s: StratusProcess, name: string, event: Record<string, unknown> = {}): Promise<Probe> {
  const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }));
  const text = Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8');
  assert.equal(out.StatusCode, 200);
  assert.equal(out.FunctionError, undefined, `function error: ${text}`);
  return JSON.parse(text) as Probe;
}

/** Host pids that appear while `fn` runs (the sandbox a cold invoke creates). */
async function newPids<T>(s: StratusProcess, fn: () => Promise<T>): Promise<{ result: T; pids: number[] }> {
  const before = new Set(await s.descendants());
  const result = await fn();
  const pids = (await s.descendants()).filter((pid) => !before.has(pid));
  return { result, pids };
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('warm sandboxes (default keep-alive)', () => {
  let s: StratusProcess;

  before(async () => {
    s = await startStratus();
  });

  after(async () => {
    await s?.stop();
  });

  test('a second invoke reuses the warm sandbox and its module state', async () => {
    await createFunction(s, 'warm-reuse');
    const { result: first, pids } = await newPids(s, () => probe(s, 'warm-reuse'));
    assert.equal(first.count, 1);
    assert.ok(pids.length > 0, 'the cold invoke started no sandbox process');
    const { result: second, pids: more } = await newPids(s, () => probe(s, 'warm-reuse'));
    assert.equal(second.id, first.id, 'the second invoke ran in another sandbox');
    assert.equal(second.count, 2);
    assert.deepEqual(more, [], 'the warm invoke started new processes');
    assert.ok(pids.every(isAlive), 'the warm sandbox died');
  });

  test('4 concurrent invokes run in 4 sandboxes, which are then all reused', async () => {
    await createFunction(s, 'warm-concurrent');
    const first = await Promise.all([1, 2, 3, 4].map(() => probe(s, 'warm-concurrent', { sleepMs: 500 })));
    const ids = new Set(first.map((p) => p.id));
    assert.equal(ids.size, 4, `expected 4 sandboxes, got ${ids.size}`);
    assert.ok(first.every((p) => p.count === 1));
    const second = await Promise.all([1, 2, 3, 4].map(() => probe(s, 'warm-concurrent', { sleepMs: 500 })));
    assert.deepEqual(new Set(second.map((p) => p.id)), ids, 'the second wave did not reuse the 4 warm sandboxes');
    assert.ok(second.every((p) => p.count === 2));
  });

  test('after update-function-code the next invoke runs the new code in a new sandbox', async () => {
    await createFunction(s, 'warm-code');
    const { result: old, pids } = await newPids(s, () => probe(s, 'warm-code'));
    assert.equal(old.codeVersion, 1);
    await s.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'warm-code', ZipFile: await makeZip({ 'index.js': sandboxProbe(2) }) }));
    const fresh = await probe(s, 'warm-code');
    assert.equal(fresh.codeVersion, 2);
    assert.notEqual(fresh.id, old.id);
    assert.equal(fresh.count, 1);
    await waitFor('the old sandbox to be destroyed', () => pids.every((pid) => !isAlive(pid)));
  });

  test('after update-function-configuration the next invoke sees the new settings in a new sandbox', async () => {
    await createFunction(s, 'warm-config', { Environment: { Variables: { GREETING: 'hello' } } });
    const old = await probe(s, 'warm-config');
    assert.equal(old.greeting, 'hello');
    assert.equal(old.memory, '128');
    await s.lambda.send(new UpdateFunctionConfigurationCommand({
      FunctionName: 'warm-config', MemorySize: 256, Environment: { Variables: { GREETING: 'hola' } },
    }));
    const fresh = await probe(s, 'warm-config');
    assert.notEqual(fresh.id, old.id);
    assert.equal(fresh.greeting, 'hola');
    assert.equal(fresh.memory, '256');
    assert.equal(fresh.codeVersion, 1);
  });

  test('an update while an invoke is running does not disturb it, and later invokes get the new code', async () => {
    await createFunction(s, 'warm-busy-update');
    const running = probe(s, 'warm-busy-update', { sleepMs: 1500 });
    await new Promise((r) => setTimeout(r, 500));
    await s.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'warm-busy-update', ZipFile: await makeZip({ 'index.js': sandboxProbe(2) }) }));
    const old = await running;
    assert.equal(old.codeVersion, 1);
    const fresh = await probe(s, 'warm-busy-update');
    assert.equal(fresh.codeVersion, 2);
    assert.notEqual(fresh.id, old.id, 'the retired sandbox served an invoke after the update');
  });
});

describe('keep-alive reaping', () => {
  let s: StratusProcess;

  before(async () => {
    s = await startStratus({ keepAliveMs: 1500 });
  });

  after(async () => {
    await s?.stop();
  });

  test('an idle sandbox is reclaimed after the keep-alive and the next invoke starts a new one', async () => {
    await createFunction(s, 'keepalive');
    const { result: first, pids } = await newPids(s, () => probe(s, 'keepalive'));
    assert.ok(pids.length > 0, 'the cold invoke started no sandbox process');
    assert.ok(pids.every(isAlive), 'the sandbox died right after its invoke');
    await new Promise((r) => setTimeout(r, 3000));
    await waitFor('the idle sandbox processes to exit', () => pids.every((pid) => !isAlive(pid)), 10_000);
    const second = await probe(s, 'keepalive');
    assert.notEqual(second.id, first.id, 'the reaped sandbox served the invoke');
    assert.equal(second.count, 1);
  });

  test('a sandbox used within the keep-alive stays warm', async () => {
    await createFunction(s, 'keepalive-busy');
    const first = await probe(s, 'keepalive-busy');
    let last = first;
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 500));
      last = await probe(s, 'keepalive-busy');
    }
    assert.equal(last.id, first.id, 'a sandbox in regular use was reaped');
    assert.equal(last.count, 5);
  });
});
