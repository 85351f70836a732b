import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type { Sandbox, SandboxExit } from '../sandbox/index.js';
import { ManualClock } from '../shared/clock.js';
import { Environment, type EnvironmentParams } from './environment.js';
import type { Invocation, InvocationResult } from './invocation.js';
import type { NextInvocation } from './runtime-api.js';
import { RuntimeApiServer } from './runtime-api.js';

/** A sandbox that runs nothing: the test plays its runtime, exits it and watches freezes. */
class FakeSandbox implements Sandbox {
  readonly id = 'sandbox';
  readonly pid = 4242;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly exited: Promise<SandboxExit>;
  /** What happened to it, in order: 'freeze', 'thaw', 'destroy'. */
  readonly events: string[] = [];
  frozen = false;
  private exit!: (e: SandboxExit) => void;

  constructor() {
    this.exited = new Promise((resolve) => (this.exit = resolve));
  }

  peakMemoryBytes(): number {
    return 70 * 1024 * 1024;
  }

  async freeze(): Promise<void> {
    this.frozen = true;
    this.events.push('freeze');
  }

  /** Like a cgroup freezer, the thaw takes effect a moment later. */
  async thaw(): Promise<void> {
    this.events.push('thaw');
    await new Promise((resolve) => setImmediate(resolve));
    this.frozen = false;
  }

  async destroy(): Promise<void> {
    this.events.push('destroy');
    this.exitWith({ code: null, signal: 'SIGKILL', oomKilled: false });
  }

  /** The runtime (stratus-init) ends with this status. */
  exitWith(e: SandboxExit): void {
    this.exit(e);
  }
}

function setup(overrides: Partial<EnvironmentParams> = {}) {
  const clock = new ManualClock();
  const logged: string[] = [];
  let deaths = 0;
  let initialized = 0;
  const env = new Environment({
    id: 'env-1', functionName: 'hello', log: { accountId: '000000000000', functionName: 'hello', group: '/aws/lambda/hello', stream: 's' }, version: '$LATEST', runtime: 'nodejs20.x', memoryMb: 128,
    timeoutMs: 3000, initTimeoutMs: 10_000, maxResponseBytes: 6 * 1024 * 1024, clock,
    logSink: { enabled: true, write: (_fn, text) => logged.push(text) },
    onDeath: () => deaths++,
    onInitialized: () => initialized++,
    reportsInit: true,
    logLimits: { bytesPerSecond: 1024 * 1024, burstBytes: 1024 * 1024, bytesPerInvoke: 1024 * 1024 },
    ...overrides,
  });
  const sandbox = new FakeSandbox();
  env.attach(sandbox);
  /** The runtime's GET /next: resolves with the invocation it is handed. */
  const next = () => new Promise<NextInvocation>((resolve) => env.onNext(resolve));
  return { clock, env, sandbox, logged, next, deaths: () => deaths, initialized: () => initialized };
}

function invocation(requestId: string, tailLog = false): Invocation {
  return { requestId, payload: Buffer.from('{"n":1}'), invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:hello', traceId: 'Root=1-abc', tailLog };
}

/** Lets settled promises and pending setImmediate callbacks (output drain) run. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

function errorOf(result: InvocationResult): { errorType: string; message: string } {
  assert.equal(result.outcome.kind, 'function-error');
  if (result.outcome.kind !== 'function-error') throw new Error('unreachable');
  const doc = JSON.parse(result.outcome.payload.toString()) as { errorMessage: string };
  return { errorType: result.outcome.errorType, message: doc.errorMessage };
}

describe('Environment (the Runtime API state machine)', () => {
  it('a cold start waits for the runtime, reports Init Duration once, and a warm invoke does not', async () => {
    const { clock, env, next, logged, initialized } = setup();
    const first = env.invoke(invocation('req-1'));
    clock.advance(250);
    assert.equal(initialized(), 0, 'init is not over before the runtime asks for work');
    const handed = await next();
    assert.equal(initialized(), 1);
    assert.equal(handed.requestId, 'req-1');
    assert.equal(handed.deadlineMs, clock.now() + 3000);
    assert.equal(handed.invokedFunctionArn, 'arn:aws:lambda:us-east-1:000000000000:function:hello');
    assert.equal(env.busy, true);
    clock.advance(40);
    assert.equal(env.onResponse('req-1', Buffer.from('"hi"')), 'accepted');
    const cold = await first;
    assert.deepEqual(cold.outcome, { kind: 'success', payload: Buffer.from('"hi"') });
    assert.equal(cold.initDurationMs, 250);
    assert.equal(cold.durationMs, 40);
    assert.equal(cold.reusable, true);
    assert.equal(env.busy, false);
    assert.match(logged.join(''), /INIT_START Runtime Version: stratus:nodejs20\.x\nSTART RequestId: req-1 Version: \$LATEST/);
    assert.match(logged.join(''), /REPORT RequestId: req-1\tDuration: 40\.00 ms\t.*Init Duration: 250\.00 ms/);

    const handedWarm = next();
    const warm = env.invoke(invocation('req-2'));
    assert.equal((await handedWarm).requestId, 'req-2');
    env.onResponse('req-2', Buffer.from('"again"'));
    const result = await warm;
    assert.equal(result.initDurationMs, undefined, 'a warm start reports no Init Duration');
    assert.doesNotMatch(logged.join('').split('START RequestId: req-2')[1] ?? '', /Init Duration/);
  });

  it('a provisioned environment reports no Init Duration, even on its first invoke', async () => {
    const { clock, env, next } = setup({ reportsInit: false });
    clock.advance(500);
    const handed = next();
    const result = env.invoke(invocation('req-1'));
    env.onResponse((await handed).requestId, Buffer.from('null'));
    assert.equal((await result).initDurationMs, undefined);
  });

  it('a function error is the runtime\'s error document, and the environment stays reusable', async () => {
    const { env, next } = setup();
    const handed = next();
    const result = env.invoke(invocation('req-1'));
    await handed;
    assert.equal(env.onError('req-1', 'Error', Buffer.from('{"errorType":"Error","errorMessage":"boom"}')), 'accepted');
    const r = await result;
    assert.deepEqual(errorOf(r), { errorType: 'Error', message: 'boom' });
    assert.equal(r.reusable, true);
  });

  it('answers for an unknown request id are refused and leave the invocation running', async () => {
    const { env, next } = setup();
    const handed = next();
    const result = env.invoke(invocation('req-1'));
    await handed;
    assert.equal(env.onResponse('req-0', Buffer.from('"stale"')), 'unknown-request');
    assert.equal(env.onError('nope', undefined, Buffer.from('{}')), 'unknown-request');
    assert.equal(env.busy, true);
    env.onResponse('req-1', Buffer.from('"right"'));
    assert.deepEqual((await result).outcome, { kind: 'success', payload: Buffer.from('"right"') });
  });

  it('a second invoke while one runs is refused', async () => {
    const { env } = setup();
    void env.invoke(invocation('req-1'));
    await assert.rejects(env.invoke(invocation('req-2')), /already running an invocation/);
  });

  it('a response over the limit is Function.ResponseSizeTooLarge', async () => {
    const { env, next } = setup();
    const handed = next();
    const result = env.invoke(invocation('req-1'));
    await handed;
    assert.equal(env.onResponse('req-1', 'too-large'), 'too-large');
    assert.equal(errorOf(await result).errorType, 'Function.ResponseSizeTooLarge');
  });

  it('a timeout kills the sandbox and gives Sandbox.Timedout with the task timed out line', async () => {
    const { clock, env, next, sandbox, deaths } = setup();
    const handed = next();
    const result = env.invoke(invocation('req-1', true));
    await handed;
    clock.advance(2999);
    assert.equal(env.busy, true, 'not yet timed out');
    clock.advance(1);
    const r = await result;
    assert.deepEqual(errorOf(r), { errorType: 'Sandbox.Timedout', message: 'RequestId: req-1 Error: Task timed out after 3.00 seconds' });
    assert.equal(r.reusable, false);
    assert.equal(r.durationMs, 3000);
    assert.ok(sandbox.events.includes('destroy'), 'the sandbox is killed');
    assert.equal(env.alive, false);
    assert.equal(deaths(), 1);
    const tail = Buffer.from(r.logTail ?? '', 'base64').toString();
    assert.match(tail, /req-1 Task timed out after 3\.00 seconds\n/);
    assert.match(tail, /REPORT RequestId: req-1\t.*Status: timeout/);
    // A late answer of the killed runtime changes nothing.
    assert.equal(env.onResponse('req-1', Buffer.from('"late"')), 'unknown-request');
  });

  it('in JSON format writes Lambda\'s records around the function\'s output, filtered by SystemLogLevel', async () => {
    const { env, next, sandbox } = setup({ logging: { format: 'JSON' } });
    const handed = next();
    const result = env.invoke(invocation('req-1', true));
    await handed;
    sandbox.stdout.write('{"level":"INFO","message":"from the function"}\n');
    await turn();
    env.onResponse('req-1', Buffer.from('null'));
    const tail = Buffer.from((await result).logTail ?? '', 'base64').toString().split('\n').filter((l) => l !== '');
    const types = tail.map((l) => (JSON.parse(l) as { type?: string; message?: string }).type ?? 'function');
    assert.deepEqual(types, ['platform.initStart', 'platform.start', 'function', 'platform.report']);

    const quiet = setup({ logging: { format: 'JSON', systemLogLevel: 'WARN' } });
    const handedQuiet = quiet.next();
    const timedOut = quiet.env.invoke(invocation('req-2', true));
    await handedQuiet;
    quiet.clock.advance(3000);
    const lines = Buffer.from((await timedOut).logTail ?? '', 'base64').toString().split('\n').filter((l) => l !== '');
    assert.match(lines[0] ?? '', /^\S+ req-2 Task timed out after 3\.00 seconds$/, 'the timeout line is kept');
    assert.deepEqual(lines.slice(1).map((l) => JSON.parse(l) as { type: string; record: { status: string } }).map((r) => [r.type, r.record.status]), [
      ['platform.runtimeDone', 'timeout'], ['platform.report', 'timeout'],
    ]);
  });

  it('a runtime that never asks for work times out its init', async () => {
    const { clock, env } = setup({ initTimeoutMs: 5000 });
    const result = env.invoke(invocation('req-1'));
    clock.advance(5000);
    assert.deepEqual(errorOf(await result), { errorType: 'Sandbox.Timedout', message: 'RequestId: req-1 Error: Init timed out after 5.00 seconds' });
  });

  it('a runtime that exits during an invocation gives Runtime.ExitError with its exit status', async () => {
    const { env, next, sandbox, deaths } = setup();
    const handed = next();
    const result = env.invoke(invocation('req-1'));
    await handed;
    sandbox.exitWith({ code: 2, signal: null, oomKilled: false });
    const r = await result;
    assert.deepEqual(errorOf(r), { errorType: 'Runtime.ExitError', message: 'RequestId: req-1 Error: Runtime exited with error: exit status 2' });
    assert.equal(r.reusable, false);
    assert.equal(deaths(), 1);
    // The dead environment answers the next invoke with the same failure.
    assert.deepEqual(errorOf(await env.invoke(invocation('req-2'))), { errorType: 'Runtime.ExitError', message: 'RequestId: req-2 Error: Runtime exited with error: exit status 2' });
    assert.equal(deaths(), 1, 'an environment dies once');
  });

  it('a runtime killed by a signal or the memory limit says so', async () => {
    const killed = setup();
    killed.sandbox.exitWith({ code: 128 + 11, signal: null, oomKilled: false });
    await turn();
    assert.equal(errorOf(await killed.env.invoke(invocation('a'))).message, 'RequestId: a Error: Runtime exited with error: signal: segmentation fault');
    const oom = setup();
    oom.sandbox.exitWith({ code: null, signal: 'SIGKILL', oomKilled: true });
    await turn();
    assert.deepEqual(errorOf(await oom.env.invoke(invocation('b'))), { errorType: 'Runtime.OutOfMemory', message: 'RequestId: b Error: Runtime exited with error: signal: killed' });
  });

  it('an init error fails the waiting invocation with its error type and ends the environment', async () => {
    const { env, initialized, sandbox } = setup();
    sandbox.stderr.write('Error: Cannot find module ./missing\n');
    await turn();
    const result = env.invoke(invocation('req-1', true));
    env.onInitError('Runtime.ImportModuleError', Buffer.from('{"errorType":"Runtime.ImportModuleError","errorMessage":"Cannot find module"}'));
    const r = await result;
    assert.deepEqual(errorOf(r), { errorType: 'Runtime.ImportModuleError', message: 'Cannot find module' });
    assert.match(Buffer.from(r.logTail ?? '', 'base64').toString(), /^Error: Cannot find module \.\/missing\n/, 'the tail shows what init printed');
    assert.equal(r.reusable, false);
    assert.equal(initialized() >= 1, true, 'the boot gate is released');
  });

  it('an idle environment is frozen after freezeIdleAfterMs and thawed before its next invocation is handed over', async () => {
    const { clock, env, next, sandbox } = setup({ freezeAfterMs: 100 });
    let handed = next();
    const first = env.invoke(invocation('req-1'));
    env.onResponse((await handed).requestId, Buffer.from('1'));
    await first;
    handed = next(); // idle: the runtime waits for work
    clock.advance(99);
    await turn();
    assert.deepEqual(sandbox.events, [], 'not frozen before freezeIdleAfterMs');
    clock.advance(1);
    await turn();
    assert.deepEqual(sandbox.events, ['freeze']);
    assert.equal(sandbox.frozen, true);

    let frozenWhenHanded: boolean | undefined;
    void handed.then(() => (frozenWhenHanded = sandbox.frozen));
    const second = env.invoke(invocation('req-2'));
    assert.equal((await handed).requestId, 'req-2');
    await turn();
    assert.equal(frozenWhenHanded, false, 'the invocation reaches a thawed runtime');
    assert.deepEqual(sandbox.events, ['freeze', 'thaw']);
    env.onResponse('req-2', Buffer.from('2'));
    assert.equal((await second).reusable, true);
  });

  it('an invocation that comes before the freeze delay cancels the freeze', async () => {
    const { clock, env, next, sandbox } = setup({ freezeAfterMs: 100 });
    let handed = next();
    const first = env.invoke(invocation('req-1'));
    env.onResponse((await handed).requestId, Buffer.from('1'));
    await first;
    handed = next();
    clock.advance(50);
    const second = env.invoke(invocation('req-2'));
    assert.equal((await handed).requestId, 'req-2');
    clock.advance(1000);
    await turn();
    assert.deepEqual(sandbox.events, [], 'a busy environment is never frozen');
    env.onResponse('req-2', Buffer.from('2'));
    await second;
  });

  it('output before the first invocation goes into that invocation\'s log, output during it to its tail', async () => {
    const { env, next, sandbox } = setup();
    sandbox.stdout.write('loading module\n');
    await turn();
    const handed = next();
    const result = env.invoke(invocation('req-1', true));
    await handed;
    sandbox.stderr.write('handling\n');
    await turn();
    env.onResponse('req-1', Buffer.from('null'));
    const tail = Buffer.from((await result).logTail ?? '', 'base64').toString();
    assert.match(tail, /START RequestId: req-1 Version: \$LATEST\nloading module\nhandling\nEND RequestId: req-1\n/);
  });

  it('init output is logged once, as it comes; the first tail shows it after START', async () => {
    const { env, next, sandbox, logged } = setup();
    sandbox.stdout.write('loading module\n');
    await turn();
    const handed = next();
    const result = env.invoke(invocation('req-1', true));
    await handed;
    env.onResponse('req-1', Buffer.from('null'));
    await result;
    assert.equal(logged.join('').split('loading module').length - 1, 1);
  });

  it('output that drains after the response belongs to the invocation, even once the runtime asked for the next', async () => {
    const { env, next, sandbox } = setup();
    const first = next();
    const warm = env.invoke(invocation('req-0'));
    await first;
    env.onResponse('req-0', Buffer.from('0'));
    await warm;
    const handed = next();
    const result = env.invoke(invocation('req-1', true));
    await handed;
    env.onResponse('req-1', Buffer.from('null'));
    // The runtime asks for its next invocation at once, while its last writes are still on the way.
    let dispatched = 0;
    env.onNext(() => dispatched++);
    for (let i = 0; i < 3; i++) {
      sandbox.stdout.write(`late ${i}\n`);
      await turn();
    }
    const tail = Buffer.from((await result).logTail ?? '', 'base64').toString();
    assert.match(tail, /late 0\nlate 1\nlate 2\nEND RequestId: req-1\n/);
    assert.equal(dispatched, 0, 'the answered invocation is not handed over again');
    const again = env.invoke(invocation('req-2'));
    await turn();
    assert.equal(dispatched, 1);
    env.onResponse('req-2', Buffer.from('2'));
    await again;
  });

  it('speaks HTTP to a runtime over its Unix socket (GET next, POST response)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stratus-env-test-'));
    const { env } = setup();
    const api = new RuntimeApiServer(join(dir, 'runtime.sock'), env, 6 * 1024 * 1024);
    try {
      await api.listen();
      const call = (method: string, path: string, body?: string) => new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
        const req = request({ socketPath: join(dir, 'runtime.sock'), method, path }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString())).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        });
        req.on('error', reject);
        req.end(body);
      });
      const nextReply = call('GET', '/2018-06-01/runtime/invocation/next');
      const result = env.invoke(invocation('req-http'));
      const handed = await nextReply;
      assert.equal(handed.status, 200);
      assert.equal(handed.headers['lambda-runtime-aws-request-id'], 'req-http');
      assert.equal(handed.body, '{"n":1}');
      const posted = await call('POST', '/2018-06-01/runtime/invocation/req-http/response', '{"ok":true}');
      assert.equal(posted.status, 202);
      assert.deepEqual((await result).outcome, { kind: 'success', payload: Buffer.from('{"ok":true}') });
    } finally {
      await api.close();
      await env.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
