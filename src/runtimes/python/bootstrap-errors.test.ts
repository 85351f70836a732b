/**
 * Python runtime (python3.11): init errors (Runtime.ImportModuleError and friends) and a
 * Runtime API that is missing, malformed, unreachable or goes away.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ECHO, LOG_LINE, expectInitError, killChild, startPython, withFixture } from './testing/python-runtime.js';

describe('python runtime: init errors', () => {
  it('missing module → Runtime.ImportModuleError', () =>
    withFixture({}, async (f) => {
      const { body, stdout } = await expectInitError(f, 'app.handler');
      assert.equal(body.errorType, 'Runtime.ImportModuleError');
      assert.equal(body.errorMessage, "Unable to import module 'app': No module named 'app'");
      assert.deepEqual(body.stackTrace, []);
      assert.match(stdout, LOG_LINE('WARNING', '', 'LAMBDA_WARNING: Unhandled exception\\. .*\\r'));
      assert.match(stdout, /^\[ERROR\] Runtime\.ImportModuleError: Unable to import module 'app': No module named 'app'\rTraceback \(most recent call last\):$/m);
    }));

  it('missing dependency of the handler module → Runtime.ImportModuleError naming it', () =>
    withFixture({ 'app.py': `import requests_not_here\n` }, async (f) => {
      const { body } = await expectInitError(f, 'app.handler');
      assert.equal(body.errorType, 'Runtime.ImportModuleError');
      assert.equal(body.errorMessage, "Unable to import module 'app': No module named 'requests_not_here'");
    }));

  it('missing function → Runtime.HandlerNotFound', () =>
    withFixture({ 'app.py': `def other(event, context):\n    pass\n` }, async (f) => {
      const { body } = await expectInitError(f, 'app.handler');
      assert.equal(body.errorType, 'Runtime.HandlerNotFound');
      assert.equal(body.errorMessage, "Handler 'handler' missing on module 'app'");
      assert.deepEqual(body.stackTrace, []);
    }));

  it('syntax error → Runtime.UserCodeSyntaxError', () =>
    withFixture({ 'app.py': `def handler(event, context):\n    return )\n` }, async (f) => {
      const { body } = await expectInitError(f, 'app.handler');
      assert.equal(body.errorType, 'Runtime.UserCodeSyntaxError');
      assert.equal(body.errorMessage, "Syntax error in module 'app': unmatched ')' (app.py, line 2)");
      assert.equal(body.stackTrace.length, 1);
      assert.equal(body.stackTrace[0]?.trimEnd(), `  File "${path.join(f.taskRoot, 'app.py')}" Line 2\n        return )`);
    }).then(() =>
      withFixture({ 'app.py': `x = = 1\n` }, async (f) => {
        const { body } = await expectInitError(f, 'app.handler');
        assert.equal(body.errorMessage, "Syntax error in module 'app': invalid syntax (app.py, line 1)");
      }),
    ));

  it('malformed handler → Runtime.MalformedHandlerName', () =>
    withFixture({ 'app.py': ECHO }, async (f) => {
      const { body } = await expectInitError(f, 'x');
      assert.equal(body.errorType, 'Runtime.MalformedHandlerName');
      assert.equal(body.errorMessage, "Bad handler 'x': not enough values to unpack (expected 2, got 1)");
    }));

  it('built-in module name → Runtime.BuiltInModuleConflict', () =>
    withFixture({}, async (f) => {
      const { body } = await expectInitError(f, 'sys.handler');
      assert.equal(body.errorType, 'Runtime.BuiltInModuleConflict');
      assert.equal(body.errorMessage, 'Cannot use built-in module sys as a handler module');
    }));

  it('exception at import → its class name, message and the user frames', () =>
    withFixture({ 'app.py': `import os\nraise KeyError("CONFIG")\n` }, async (f) => {
      const { body } = await expectInitError(f, 'app.handler');
      assert.equal(body.errorType, 'KeyError');
      assert.equal(body.errorMessage, "'CONFIG'");
      assert.equal(body.stackTrace.at(-1), `  File "${path.join(f.taskRoot, 'app.py')}", line 2, in <module>\n    raise KeyError("CONFIG")\n`);
      assert.ok(!body.stackTrace.some((l) => l.includes('/bootstrap.py')), body.stackTrace.join(''));
    }));
});

describe('python runtime: Runtime API problems', () => {
  async function expectFatal(env: Record<string, string>, message: RegExp): Promise<void> {
    const rt = startPython({ _HANDLER: 'app.handler', LAMBDA_TASK_ROOT: '/nonexistent', ...env });
    try {
      const { code } = await rt.exited;
      assert.equal(code, 1);
      assert.match(rt.stderr(), message);
    } finally {
      await killChild(rt.child);
    }
  }

  it('exits 1 with a message when no Runtime API is configured', () =>
    expectFatal({}, /^stratus python runtime: neither STRATUS_RUNTIME_API_SOCKET nor AWS_LAMBDA_RUNTIME_API is set/));

  it('exits 1 with a message when AWS_LAMBDA_RUNTIME_API is malformed', () =>
    expectFatal({ AWS_LAMBDA_RUNTIME_API: 'localhost:notaport' }, /AWS_LAMBDA_RUNTIME_API must be host:port, got 'localhost:notaport'/));

  it('exits 1 with a message when the socket is unreachable', () =>
    expectFatal(
      { STRATUS_RUNTIME_API_SOCKET: '/nonexistent/rapid.sock', AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001' },
      /cannot connect to the Runtime API at unix:\/nonexistent\/rapid\.sock: \[Errno 2\]/,
    ));

  it('exits 1 when the Runtime API goes away', () =>
    withFixture({ 'app.py': ECHO }, async (f) => {
      const rt = f.start('app.handler');
      await f.api.waitFor(() => (f.api.nextCount > 0 ? true : undefined), 'GET /next');
      await f.api.close();
      const { code } = await rt.exited;
      assert.equal(code, 1);
      assert.match(rt.stderr(), /stratus python runtime: cannot get the next invocation/);
    }));
});
