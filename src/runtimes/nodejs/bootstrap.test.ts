/**
 * Node.js runtime: start-up, handler loading, init errors, transports and
 * process-level failures. Invocation semantics are in invoke.test.ts.
 * Runs the built dist/src/runtimes/nodejs/bootstrap.mjs against a fake Runtime API.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFixture, startRuntime, type Fixture } from './testing/fake-runtime-api.js';

async function withFixture(
  files: Record<string, string>,
  fn: (f: Fixture) => Promise<void>,
  opts: { tcp?: boolean } = {},
): Promise<void> {
  const f = await createFixture(files, opts);
  try {
    await fn(f);
  } finally {
    await f.cleanup();
  }
}

const ECHO_CJS = `exports.handler = async (event) => ({ echo: event });\n`;

/** Start `handler`, send one invocation, return the parsed response body. */
async function invokeOnce(f: Fixture, handler: string, event: unknown = { a: 1 }): Promise<unknown> {
  f.start(handler);
  f.api.enqueue({ id: 'req-1', body: JSON.stringify(event) });
  return (await f.api.response('req-1')).json;
}

/** Start `handler`, expect an init error; return its body after the process exits. */
async function expectInitError(f: Fixture, handler: string) {
  const rt = f.start(handler);
  const posted = await f.api.initError();
  const { code } = await rt.exited;
  assert.equal(code, 129, `exit code; stderr: ${rt.stderr()}`);
  assert.equal(f.api.nextCount, 0, 'no GET /next after an init error');
  const body = posted.json as { errorType: string; errorMessage: string; trace: string[] };
  assert.equal(posted.headers['lambda-runtime-function-error-type'], body.errorType);
  assert.ok(Array.isArray(body.trace));
  return { body, stdout: rt.stdout() };
}

describe('nodejs runtime: handler loading', () => {
  it('runs a CommonJS async handler (.js)', () =>
    withFixture({ 'index.js': ECHO_CJS }, async (f) => {
      assert.deepEqual(await invokeOnce(f, 'index.handler'), { echo: { a: 1 } });
      assert.ok(f.api.hosts.every((h) => h === '127.0.0.1:9001'), 'Host header is AWS_LAMBDA_RUNTIME_API');
    }));

  it('runs an ES module handler (.mjs, export const)', () =>
    withFixture({ 'app.mjs': `export const handler = async (e) => ({ esm: e.a });\n` }, async (f) => {
      assert.deepEqual(await invokeOnce(f, 'app.handler'), { esm: 1 });
    }));

  it('runs a .js ES module (package.json type module) in a subdirectory, nested export, top-level await', () =>
    withFixture(
      {
        'package.json': '{"type":"module"}',
        'src/app.js': `const v = await Promise.resolve(7);\nexport const api = { handler: async () => ({ v, meta: typeof import.meta.url }) };\n`,
      },
      async (f) => {
        assert.deepEqual(await invokeOnce(f, 'src/app.api.handler'), { v: 7, meta: 'string' });
      },
    ));

  it('runs a .cjs handler', () =>
    withFixture({ 'lib.cjs': `exports.handler = async () => 'cjs';\n` }, async (f) => {
      assert.equal(await invokeOnce(f, 'lib.handler'), 'cjs');
    }));

  it('runs a handler from a package in node_modules', () =>
    withFixture({ 'node_modules/mypkg/index.js': `exports.handler = async () => 'pkg';\n` }, async (f) => {
      assert.equal(await invokeOnce(f, 'mypkg.handler'), 'pkg');
    }));

  it('talks TCP to AWS_LAMBDA_RUNTIME_API when no socket is given', () =>
    withFixture(
      { 'index.js': ECHO_CJS },
      async (f) => {
        assert.deepEqual(await invokeOnce(f, 'index.handler', [1, 2]), { echo: [1, 2] });
      },
      { tcp: true },
    ));
});

describe('nodejs runtime: init errors', () => {
  it('missing module → Runtime.ImportModuleError', () =>
    withFixture({}, async (f) => {
      const { body, stdout } = await expectInitError(f, 'index.handler');
      assert.equal(body.errorType, 'Runtime.ImportModuleError');
      assert.match(body.errorMessage, /^Error: Cannot find module 'index'\nRequire stack:\n- /);
      assert.match(body.trace[0] ?? '', /^Runtime\.ImportModuleError: Error: Cannot find module 'index'/);
      assert.match(stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z\tundefined\tERROR\tUncaught Exception \t\{"errorType":"Runtime\.ImportModuleError"/m);
    }));

  it('missing export → Runtime.HandlerNotFound', () =>
    withFixture({ 'index.js': `exports.other = async () => 1;\n` }, async (f) => {
      const { body } = await expectInitError(f, 'index.handler');
      assert.equal(body.errorType, 'Runtime.HandlerNotFound');
      assert.equal(body.errorMessage, 'index.handler is undefined or not exported');
    }));

  it('export that is not a function → Runtime.HandlerNotFound', () =>
    withFixture({ 'index.mjs': `export const handler = 42;\n` }, async (f) => {
      const { body } = await expectInitError(f, 'index.handler');
      assert.equal(body.errorType, 'Runtime.HandlerNotFound');
      assert.equal(body.errorMessage, 'index.handler is not a function');
    }));

  it('syntax error (CJS and ESM) → Runtime.UserCodeSyntaxError', async () => {
    for (const file of ['index.js', 'index.mjs']) {
      await withFixture({ [file]: `exports.handler = async () => {\n` }, async (f) => {
        const { body } = await expectInitError(f, 'index.handler');
        assert.equal(body.errorType, 'Runtime.UserCodeSyntaxError', file);
        assert.match(body.errorMessage, /^SyntaxError: /);
      });
    }
  });

  it('error thrown at module top level → its own type', () =>
    withFixture({ 'index.js': `throw new RangeError('init failed');\n` }, async (f) => {
      const { body } = await expectInitError(f, 'index.handler');
      assert.equal(body.errorType, 'RangeError');
      assert.equal(body.errorMessage, 'init failed');
      assert.equal(body.trace[0], 'RangeError: init failed');
    }));

  it('malformed handler → Runtime.MalformedHandlerName', () =>
    withFixture({ 'index.js': ECHO_CJS }, async (f) => {
      const { body } = await expectInitError(f, 'index');
      assert.equal(body.errorType, 'Runtime.MalformedHandlerName');
      assert.equal(body.errorMessage, 'Bad handler');
    }));

  it('exits with a clear message when no Runtime API is configured', async () => {
    const rt = startRuntime({ _HANDLER: 'index.handler', LAMBDA_TASK_ROOT: '/nonexistent' });
    try {
      const { code } = await rt.exited;
      assert.equal(code, 1);
      assert.match(rt.stderr(), /AWS_LAMBDA_RUNTIME_API/);
    } finally {
      if (rt.child.exitCode === null && rt.child.pid !== undefined) process.kill(rt.child.pid, 'SIGKILL');
    }
  });
});

describe('nodejs runtime: fatal errors during an invocation', () => {
  it('unhandled rejection → error post (Runtime.UnhandledPromiseRejection), then exit 128', () =>
    withFixture(
      {
        'index.js': `exports.handler = async () => {
  Promise.reject(new Error('nobody catches me'));
  await new Promise((r) => setTimeout(r, 2000));
  return 'late';
};\n`,
      },
      async (f) => {
        const rt = f.start('index.handler');
        f.api.enqueue({ id: 'rej-1', body: '{}' });
        const posted = await f.api.error('rej-1');
        const body = posted.json as { errorType: string; errorMessage: string; trace: string[] };
        assert.equal(posted.headers['lambda-runtime-function-error-type'], 'Runtime.UnhandledPromiseRejection');
        assert.equal(body.errorType, 'Runtime.UnhandledPromiseRejection');
        assert.equal(body.errorMessage, 'Error: nobody catches me');
        assert.equal((await rt.exited).code, 128);
        assert.equal(f.api.responses.size, 0);
        assert.match(rt.stdout(), /\trej-1\tERROR\tUnhandled Promise Rejection \t\{"errorType":"Runtime\.UnhandledPromiseRejection"/);
      },
    ));

  it('uncaught exception from a timer → error post, then exit 129', () =>
    withFixture(
      { 'index.js': `exports.handler = (e, c, cb) => { setTimeout(() => { throw new TypeError('timer boom'); }, 10); };\n` },
      async (f) => {
        const rt = f.start('index.handler');
        f.api.enqueue({ id: 'unc-1', body: '{}' });
        const body = (await f.api.error('unc-1')).json as { errorType: string; errorMessage: string };
        assert.deepEqual([body.errorType, body.errorMessage], ['TypeError', 'timer boom']);
        assert.equal((await rt.exited).code, 129);
        assert.match(rt.stdout(), /\tunc-1\tERROR\tUncaught Exception \t\{"errorType":"TypeError"/);
      },
    ));
});
