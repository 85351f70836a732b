/**
 * Node.js runtime: invocation semantics (context, handler styles, errors,
 * logging, module state). Runs the built bootstrap.mjs against a fake Runtime API.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFixture, type Fixture, type RuntimeProcess } from './testing/fake-runtime-api.js';

/** Write index.js, start the runtime on `handler`, run `fn`, clean up. */
async function withRuntime(
  handlerSource: string,
  fn: (f: Fixture, rt: RuntimeProcess) => Promise<void>,
  handler = 'index.handler',
): Promise<void> {
  const f = await createFixture({ 'index.js': handlerSource });
  try {
    await fn(f, f.start(handler));
  } finally {
    await f.cleanup();
  }
}

interface ErrorBody {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

describe('nodejs runtime: invocations', () => {
  it('keeps module state across invocations', () =>
    withRuntime(`let count = 0;\nexports.handler = async () => ({ count: ++count });\n`, async (f) => {
      f.api.enqueue({ id: 'a', body: '{}' });
      assert.deepEqual((await f.api.response('a')).json, { count: 1 });
      f.api.enqueue({ id: 'b', body: '{}' });
      assert.deepEqual((await f.api.response('b')).json, { count: 2 });
    }));

  it('builds the context from headers and environment', () =>
    withRuntime(
      `exports.handler = async (event, context) => ({
  ...context,
  remaining: context.getRemainingTimeInMillis(),
  trace: process.env._X_AMZN_TRACE_ID,
  fns: ['succeed', 'fail', 'done', 'getRemainingTimeInMillis'].map((k) => typeof context[k]),
});\n`,
      async (f) => {
        f.api.enqueue({
          id: 'ctx-1',
          body: '{}',
          headers: {
            'Lambda-Runtime-Client-Context': '{"custom":{"k":"v"}}',
            'Lambda-Runtime-Cognito-Identity': '{"cognitoIdentityId":"id-1"}',
          },
        });
        const ctx = (await f.api.response('ctx-1')).json as Record<string, unknown>;
        assert.equal(ctx['awsRequestId'], 'ctx-1');
        assert.equal(ctx['functionName'], 'fn');
        assert.equal(ctx['functionVersion'], '$LATEST');
        assert.equal(ctx['memoryLimitInMB'], '256');
        assert.equal(ctx['logGroupName'], '/aws/lambda/fn');
        assert.equal(ctx['logStreamName'], '2024/01/01/[$LATEST]abc');
        assert.equal(ctx['invokedFunctionArn'], 'arn:aws:lambda:us-east-1:000000000000:function:fn');
        assert.equal(ctx['callbackWaitsForEmptyEventLoop'], true);
        assert.deepEqual(ctx['clientContext'], { custom: { k: 'v' } });
        assert.deepEqual(ctx['identity'], { cognitoIdentityId: 'id-1' });
        assert.equal(ctx['trace'], 'Root=1-00000000-ctx-1;Sampled=0');
        assert.deepEqual(ctx['fns'], ['function', 'function', 'function', 'function']);
        const remaining = ctx['remaining'] as number;
        assert.ok(remaining > 25_000 && remaining <= 30_000, `remaining ${remaining}`);
      },
    ));

  it('callback style waits for the event loop to drain unless callbackWaitsForEmptyEventLoop is false', () =>
    withRuntime(
      `exports.handler = (event, context, callback) => {
  const result = { timerFired: false };
  if (event.noWait) context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => { result.timerFired = true; }, 300);
  callback(null, result);
  callback(null, 'ignored second completion');
};\n`,
      async (f) => {
        const sent = Date.now();
        f.api.enqueue({ id: 'wait', body: '{}' });
        const waited = await f.api.response('wait');
        assert.deepEqual(waited.json, { timerFired: true });
        assert.ok(waited.at - sent >= 250, `posted after ${waited.at - sent}ms`);

        // Serialized at callback time, before the 300 ms timer could run.
        f.api.enqueue({ id: 'nowait', body: '{"noWait":true}' });
        assert.deepEqual((await f.api.response('nowait')).json, { timerFired: false });
        // The second callback call of each invocation was ignored.
        await new Promise((r) => setTimeout(r, 400));
        assert.deepEqual(f.api.responses.get('wait')?.json, { timerFired: true });
        assert.deepEqual(f.api.responses.get('nowait')?.json, { timerFired: false });
        assert.equal(f.api.errors.size, 0);
      },
    ));

  it('legacy context.succeed / context.done, and undefined → null', () =>
    withRuntime(
      `exports.handler = (event, context) => {
  if (event.kind === 'succeed') context.succeed({ via: 'succeed' });
  else if (event.kind === 'done') context.done(null, { via: 'done' });
  else return Promise.resolve(undefined);
};\n`,
      async (f) => {
        f.api.enqueue({ id: 's', body: '{"kind":"succeed"}' });
        assert.deepEqual((await f.api.response('s')).json, { via: 'succeed' });
        f.api.enqueue({ id: 'd', body: '{"kind":"done"}' });
        assert.deepEqual((await f.api.response('d')).json, { via: 'done' });
        f.api.enqueue({ id: 'u', body: '{}' });
        assert.equal((await f.api.response('u')).body, 'null');
      },
    ));

  it('reports handler errors and keeps serving', () =>
    withRuntime(
      `exports.handler = async (event) => {
  if (event.kind === 'type') throw new TypeError('bad thing');
  if (event.kind === 'string') throw 'plain string';
  if (event.kind === 'circular') { const o = {}; o.self = o; return o; }
  return 'fine';
};\n`,
      async (f) => {
        f.api.enqueue({ id: 'e1', body: '{"kind":"type"}' });
        const e1 = await f.api.error('e1');
        const b1 = e1.json as ErrorBody;
        assert.equal(e1.headers['lambda-runtime-function-error-type'], 'TypeError');
        assert.equal(b1.errorType, 'TypeError');
        assert.equal(b1.errorMessage, 'bad thing');
        assert.equal(b1.trace[0], 'TypeError: bad thing');
        assert.match(b1.trace[1] ?? '', /^\s+at .*index\.js/);

        f.api.enqueue({ id: 'e2', body: '{"kind":"string"}' });
        assert.deepEqual((await f.api.error('e2')).json, { errorType: 'string', errorMessage: 'plain string', trace: [] });

        f.api.enqueue({ id: 'e3', body: '{"kind":"circular"}' });
        const b3 = (await f.api.error('e3')).json as ErrorBody;
        assert.deepEqual([b3.errorType, b3.errorMessage], ['Error', 'Unable to stringify response body']);

        f.api.enqueue({ id: 'e4', body: 'not json' });
        assert.equal(((await f.api.error('e4')).json as ErrorBody).errorType, 'SyntaxError');

        f.api.enqueue({ id: 'ok', body: '{}' });
        assert.equal((await f.api.response('ok')).json, 'fine');
        assert.deepEqual([...f.api.responses.keys()], ['ok']);
      },
    ));

  it('callback(err) and synchronous throws are posted as errors', () =>
    withRuntime(
      `exports.handler = (event, context, callback) => {
  if (event.kind === 'throw') throw new RangeError('sync throw');
  callback(new Error('callback error'));
};\n`,
      async (f) => {
        f.api.enqueue({ id: 'cb', body: '{}' });
        const cb = (await f.api.error('cb')).json as ErrorBody;
        assert.deepEqual([cb.errorType, cb.errorMessage], ['Error', 'callback error']);
        f.api.enqueue({ id: 'th', body: '{"kind":"throw"}' });
        const th = (await f.api.error('th')).json as ErrorBody;
        assert.deepEqual([th.errorType, th.errorMessage], ['RangeError', 'sync throw']);
      },
    ));

  it('event loop drained without completion: sync → null response', () =>
    withRuntime(`exports.handler = (event) => {\n  if (event.plain) return new Promise(() => {});\n};\n`, async (f) => {
      f.api.enqueue({ id: 'sync', body: '{}' });
      assert.equal((await f.api.response('sync')).body, 'null');
      // A non-async function returning a never-settling promise counts as sync too.
      f.api.enqueue({ id: 'plain', body: '{"plain":true}' });
      assert.equal((await f.api.response('plain')).body, 'null');
    }));

  it('event loop drained without completion: async handler → Runtime.NodeJsExit, then keeps serving', () =>
    withRuntime(
      `exports.handler = async (event) => (event.ok ? 'ok' : new Promise(() => {}));\n`,
      async (f, rt) => {
        f.api.enqueue({ id: 'never', body: '{}' });
        const body = (await f.api.error('never')).json as ErrorBody;
        assert.equal(body.errorType, 'Runtime.NodeJsExit');
        await rt.waitForStdout(/\tnever\tERROR\tInvoke Error \t\{"errorType":"Runtime.NodeJsExit"/);
        f.api.enqueue({ id: 'after', body: '{"ok":true}' });
        assert.equal((await f.api.response('after')).json, 'ok');
      },
    ));

  it('writes console output as one Lambda-format line per call', () =>
    withRuntime(
      `console.log('loading');
exports.handler = async () => {
  console.log('hello %s', 'world', { n: 1 });
  console.info('info'); console.warn('warn'); console.error('error');
  console.debug('debug'); console.trace('trace');
  console.log('multi\\nline');
  return 'logged';
};\n`,
      async (f, rt) => {
        f.api.enqueue({ id: 'log-1', body: '{}' });
        await f.api.response('log-1');
        const out = await rt.waitForStdout('multi');
        const lines = out.trimEnd().split('\n');
        const parsed = lines.map((l) => /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\t([^\t]+)\t([A-Z]+)\t(.*)$/s.exec(l));
        assert.ok(parsed.every(Boolean), `unexpected line format:\n${out}`);
        assert.deepEqual(
          parsed.map((m) => [m?.[2], m?.[3], m?.[4]]),
          [
            ['undefined', 'INFO', 'loading'],
            ['log-1', 'INFO', 'hello world { n: 1 }'],
            ['log-1', 'INFO', 'info'],
            ['log-1', 'WARN', 'warn'],
            ['log-1', 'ERROR', 'error'],
            ['log-1', 'DEBUG', 'debug'],
            ['log-1', 'TRACE', 'trace'],
            ['log-1', 'INFO', 'multi\rline'],
          ],
        );
      },
    ));

  it('logs handler errors as "Invoke Error" lines', () =>
    withRuntime(`exports.handler = async () => { throw new Error('visible'); };\n`, async (f, rt) => {
      f.api.enqueue({ id: 'ie', body: '{}' });
      await f.api.error('ie');
      const out = await rt.waitForStdout('Invoke Error');
      assert.match(out, /\tie\tERROR\tInvoke Error \t\{"errorType":"Error","errorMessage":"visible","stack":\["Error: visible",/);
    }));
});
