// The warm pool: Node.js (and Python) runtimes booted ahead of any function ("stem cells"); a cold start
// takes one, gives it the function's code and environment, and says so in its REPORT line.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { fakeSpec } from '../helpers/fake-worker.js';
import { startLocalWorker } from '../helpers/local-worker.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const CODE = `
const loadedAt = Date.now();
exports.handler = async (event, context) => ({
  name: context.functionName, memory: context.memoryLimitInMB, env: process.env.GREETING, uid: process.getuid(),
  handler: process.env._HANDLER, pool: process.env.STRATUS_WARM_POOL ?? null, loadedAt,
});`;

/** Each sandbox is three processes: bwrap, stratus-init and the runtime. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('warm pool', () => {
  let s: StratusProcess;
  const create = async (name: string, memory: number) =>
    s.lambda.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'app.handler', MemorySize: memory,
      Environment: { Variables: { GREETING: `hello ${name}` } }, Code: { ZipFile: await makeZip({ 'app.js': CODE }) },
    }));
  const invoke = async (name: string) => {
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, LogType: 'Tail' }));
    assert.equal(out.FunctionError, undefined, Buffer.from(out.Payload ?? []).toString());
    return { body: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Record<string, unknown>, log: Buffer.from(out.LogResult ?? '', 'base64').toString() };
  };

  before(async () => {
    s = await startStratus({ args: ['--warm-pool', '2'] });
    await create('pooled', 128);
    await create('other-size', 256);
  });
  after(() => s.stop());

  test('stems are booted before any function exists, and refilled after use', async () => {
    await until(async () => (await s.descendants()).length >= 2 * 3);
    const first = await invoke('pooled');
    assert.equal(first.body.name, 'pooled');
    assert.equal(first.body.memory, '128');
    assert.equal(first.body.env, 'hello pooled');
    assert.equal(first.body.handler, 'app.handler');
    assert.equal(first.body.pool, null, 'the pool marker is gone once specialized');
    assert.equal(first.body.uid, 993);
    assert.match(first.log, /Init Duration: [\d.]+ ms\tInit Source: warm-pool\t/);
    await until(async () => (await s.descendants()).length >= 3 * 3);
    const warm = await invoke('pooled');
    assert.doesNotMatch(warm.log, /Init/, 'then it is an ordinary warm environment');
    assert.equal(warm.body.loadedAt, first.body.loadedAt);
  });

  test('a function the pool does not fit (another memory size) cold-starts as usual', async () => {
    const r = await invoke('other-size');
    assert.equal(r.body.env, 'hello other-size');
    assert.match(r.log, /Init Duration/);
    assert.doesNotMatch(r.log, /warm-pool/);
  });
});

const PY_CODE = `
import json, logging, os, sys, time
loaded_at = time.time()
def handler(event, context):
    logging.getLogger().warning("from the handler")
    return {"name": context.function_name, "env": os.environ.get("GREETING"), "pool": os.environ.get("STRATUS_WARM_POOL"),
            "path": sys.path, "loaded_at": loaded_at, "booted_as_stem": b"STRATUS_WARM_POOL=1" in open("/proc/self/environ", "rb").read()}
`;

describe('warm pool with Python stems', () => {
  let s: StratusProcess;
  const create = async (name: string, runtime: 'python3.11' | 'nodejs20.x', variables: Record<string, string>, json = false) =>
    s.lambda.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: runtime, Role: 'arn:aws:iam::123456789012:role/r', Handler: 'app.handler', MemorySize: 128,
      Environment: { Variables: variables }, Code: { ZipFile: await makeZip(runtime === 'nodejs20.x' ? { 'app.js': CODE } : { 'app.py': PY_CODE }) },
      ...(json ? { LoggingConfig: { LogFormat: 'JSON' } } : {}),
    }));
  const invoke = async (name: string) => {
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, LogType: 'Tail' }));
    assert.equal(out.FunctionError, undefined, Buffer.from(out.Payload ?? []).toString());
    return { body: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Record<string, unknown>, log: Buffer.from(out.LogResult ?? '', 'base64').toString() };
  };

  before(async () => {
    s = await startStratus({ args: ['--warm-pool', '1', '--warm-pool-runtimes', 'nodejs20.x,python3.11'] });
    await create('py-pooled', 'python3.11', { GREETING: 'hello py' }, true);
    await create('py-own-path', 'python3.11', { PYTHONPATH: '/var/task/vendor' });
    await create('node-options', 'nodejs20.x', { NODE_OPTIONS: '--max-old-space-size=100' });
    await create('py-ld', 'python3.11', { LD_LIBRARY_PATH: '/var/task/lib' });
    await create('node-malloc', 'nodejs20.x', { MALLOC_ARENA_MAX: '2' });
  });
  after(() => s.stop());

  test('a Python function takes a Python stem and gets its own environment and log format', async () => {
    await until(async () => (await s.descendants()).length >= 2 * 3);
    const first = await invoke('py-pooled');
    assert.equal(first.body.name, 'py-pooled');
    assert.equal(first.body.env, 'hello py');
    assert.equal(first.body.pool, null, 'the pool marker is gone once specialized');
    assert.equal(first.body.booted_as_stem, true, 'its process was started as a stem (its exec-time environment says so)');
    assert.match(first.log, /"initDurationMs"/);
    assert.match(first.log, /\{"timestamp": [^\n]*"level": "WARNING", "message": "from the handler"/, 'JSON log format of the function, learnt after boot');
  });

  test('a function setting a variable its interpreter reads only at start gets a runtime of its own', async () => {
    const py = await invoke('py-own-path');
    assert.ok((py.body.path as string[]).includes('/var/task/vendor'), JSON.stringify(py.body.path));
    assert.equal(py.body.booted_as_stem, false);
    assert.match(py.log, /Init Duration/);
    assert.doesNotMatch(py.log, /warm-pool/);
    const node = await invoke('node-options');
    assert.doesNotMatch(node.log, /warm-pool/);
    // The dynamic loader's and glibc's variables too: read as the process starts, never by a stem.
    const ld = await invoke('py-ld');
    assert.equal(ld.body.booted_as_stem, false);
    assert.doesNotMatch(ld.log, /warm-pool/);
    assert.doesNotMatch((await invoke('node-malloc')).log, /warm-pool/);
  });
});

describe('warm pool: a keep-alive pre-warm', () => {
  test('takes a stem whose replacement boots at once, not after an invoke that may come hours later', async () => {
    const worker = await startLocalWorker('warm-pool-prewarm', { 'index.js': 'exports.handler = async () => "ok";' }, { warmPool: { size: 1, memoryMb: 128 } });
    try {
      worker.agent.fillWarmPool();
      await until(async () => worker.agent.status().stems === 1);
      const envId = randomUUID();
      await worker.agent.createEnvironment(envId, fakeSpec('prewarmed'), { prewarm: true });
      assert.equal(worker.agent.usage().states.get('warm-pool') ?? 0, 0, 'the pre-warm took the stem');
      // No invoke: the pool is full again all the same (the pre-warmed environment and a new stem).
      await until(async () => worker.agent.status().stems === 1 && worker.agent.status().environments === 2);
      // The stem's memory is reported apart (the fleet scaler does not count it as load): 128 of the 256 reserved.
      assert.deepEqual([worker.agent.status().memoryReservedMb, worker.agent.status().memoryCachesMb], [256, 128]);
      const result = await worker.agent.invoke(envId, { requestId: randomUUID(), payload: Buffer.from('{}'), traceId: 'Root=1-00000000-000000000000000000000000', tailLog: false, invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:prewarmed' });
      assert.equal(result.outcome.kind, 'success');
    } finally {
      await worker.stop();
    }
  });
});

