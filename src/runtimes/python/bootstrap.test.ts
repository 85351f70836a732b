/**
 * Python runtime (python3.11): runs src/runtimes/python/bootstrap.py with the
 * host's /usr/bin/python3 against the fake Runtime API shared with the Node.js
 * runtime tests, with a temporary LAMBDA_TASK_ROOT per test.
 */
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeRuntimeApi, startRuntime, type Posted, type RuntimeProcess } from '../nodejs/testing/fake-runtime-api.js';

const PYTHON = '/usr/bin/python3';
const BOOTSTRAP = fileURLToPath(new URL('../../../../src/runtimes/python/bootstrap.py', import.meta.url));

interface PyError {
  errorMessage: string;
  errorType: string;
  requestId: string;
  stackTrace: string[];
}

type PyRuntime = RuntimeProcess;

/** Spawn the runtime as the worker does. No byte-code writes, so tests leave no __pycache__ in src/. */
function startPython(env: Record<string, string>): PyRuntime {
  return startRuntime({ PYTHONDONTWRITEBYTECODE: '1', ...env }, [PYTHON, '-u', BOOTSTRAP]);
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid, 'SIGKILL');
  await gone;
}

interface Fixture {
  taskRoot: string;
  api: FakeRuntimeApi;
  /** Connections the fake API accepted. */
  connections(): number;
  start(handler: string, extra?: Record<string, string>): PyRuntime;
}

async function withFixture(
  files: Record<string, string>,
  fn: (f: Fixture) => Promise<void>,
  opts: { tcp?: boolean } = {},
): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'stratus-rt-python-'));
  const taskRoot = path.join(dir, 'task');
  await mkdir(taskRoot, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(taskRoot, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  const api = new FakeRuntimeApi();
  let connections = 0;
  // The fake does not count connections; its server is private, so reach in.
  (api as unknown as { server: Server }).server.on('connection', () => connections++);
  const address = await api.listen(opts.tcp ? undefined : path.join(dir, 'rapid.sock'));
  const children: ChildProcess[] = [];
  const f: Fixture = {
    taskRoot,
    api,
    connections: () => connections,
    start(handler, extra = {}) {
      const rt = startPython({
        ...(opts.tcp
          ? { AWS_LAMBDA_RUNTIME_API: address }
          : { STRATUS_RUNTIME_API_SOCKET: address, AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001' }),
        _HANDLER: handler,
        LAMBDA_TASK_ROOT: taskRoot,
        LAMBDA_RUNTIME_DIR: '/var/runtime',
        AWS_EXECUTION_ENV: 'AWS_Lambda_python3.11',
        AWS_LAMBDA_FUNCTION_NAME: 'fn',
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
        AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/fn',
        AWS_LAMBDA_LOG_STREAM_NAME: '2024/01/01/[$LATEST]abc',
        ...extra,
      });
      children.push(rt.child);
      return rt;
    },
  };
  try {
    await fn(f);
  } finally {
    for (const child of children) await killChild(child);
    await api.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const ECHO = `def handler(event, context):\n    return {"echo": event}\n`;

/** Start `handler`, send one invocation, return the parsed response body. */
async function invokeOnce(f: Fixture, handler: string, event: unknown = { a: 1 }): Promise<unknown> {
  f.start(handler);
  f.api.enqueue({ id: 'req-1', body: JSON.stringify(event) });
  return (await f.api.response('req-1')).json;
}

/** Start `handler`, expect an init error; return its body once the process has exited. */
async function expectInitError(f: Fixture, handler: string): Promise<{ body: PyError; posted: Posted; stdout: string }> {
  const rt = f.start(handler);
  const posted = await f.api.initError();
  const { code } = await rt.exited;
  assert.equal(code, 1, `exit code; stderr: ${rt.stderr()}`);
  assert.equal(f.api.nextCount, 0, 'no GET /next after an init error');
  const body = posted.json as PyError;
  assert.equal(posted.headers['lambda-runtime-function-error-type'], body.errorType);
  assert.equal(body.requestId, '');
  assert.ok(Array.isArray(body.stackTrace));
  return { body, posted, stdout: rt.stdout() };
}

const LOG_LINE = (level: string, id: string, message: string): RegExp =>
  new RegExp(`^\\[${level}\\]\\t\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\t${id}\\t${message}$`, 'm');

describe('python runtime: invocations', () => {
  it('returns a dict over one keep-alive Unix-socket connection; Host is AWS_LAMBDA_RUNTIME_API', () =>
    withFixture({ 'app.py': ECHO }, async (f) => {
      const rt = f.start('app.handler');
      f.api.enqueue({ id: 'r1', body: '{"a":1}' });
      f.api.enqueue({ id: 'r2', body: '[1,"x",null]' });
      const r1 = await f.api.response('r1');
      assert.deepEqual(r1.json, { echo: { a: 1 } });
      assert.equal(r1.body, '{"echo": {"a": 1}}', 'json.dumps formatting');
      assert.equal(r1.headers['content-type'], 'application/json');
      assert.deepEqual((await f.api.response('r2')).json, { echo: [1, 'x', null] });
      await f.api.waitFor(() => (f.api.nextCount >= 3 ? true : undefined), 'third GET /next');
      assert.equal(f.connections(), 1, 'a single keep-alive connection');
      assert.ok(f.api.hosts.every((h) => h === '127.0.0.1:9001'), `Host headers: ${f.api.hosts.join(',')}`);
      assert.equal(rt.stdout(), '', 'nothing printed by the runtime itself');
      assert.equal(rt.stderr(), '');
    }));

  it('speaks TCP to AWS_LAMBDA_RUNTIME_API when no socket is given', () =>
    withFixture(
      { 'app.py': ECHO },
      async (f) => {
        assert.deepEqual(await invokeOnce(f, 'app.handler', 'hi'), { echo: 'hi' });
        f.api.enqueue({ id: 'req-2', body: '2' });
        assert.deepEqual((await f.api.response('req-2')).json, { echo: 2 });
        assert.equal(f.connections(), 1);
        assert.match(f.api.hosts[0] ?? '', /^127\.0\.0\.1:\d+$/);
      },
      { tcp: true },
    ));

  it('builds the context object from headers and environment', () =>
    withFixture(
      {
        'ctx.py': `import os, time

def handler(event, context):
    cc = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "remaining_is_int": isinstance(context.get_remaining_time_in_millis(), int),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "identity": None if context.identity is None else [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client_context": None if cc is None else {
            "custom": cc.custom, "env": cc.env,
            "client": None if cc.client is None else [cc.client.installation_id, cc.client.app_title, cc.client.app_package_name],
        },
        "cwd": os.getcwd(),
    }
`,
      },
      async (f) => {
        f.start('ctx.handler');
        f.api.enqueue({
          id: 'ctx-1',
          body: '{}',
          headers: {
            'Lambda-Runtime-Client-Context': JSON.stringify({
              custom: { k: 'v' },
              env: { platform: 'test' },
              client: { installation_id: 'inst', app_title: 'App' },
            }),
            'Lambda-Runtime-Cognito-Identity': JSON.stringify({ cognitoIdentityId: 'id-1', cognitoIdentityPoolId: 'pool-1' }),
          },
        });
        const r = (await f.api.response('ctx-1')).json as Record<string, unknown>;
        const remaining = r['remaining'] as number;
        assert.ok(remaining > 25_000 && remaining <= 30_000, `remaining ${remaining}`);
        delete r['remaining'];
        assert.deepEqual(r, {
          aws_request_id: 'ctx-1',
          function_name: 'fn',
          function_version: '$LATEST',
          invoked_function_arn: 'arn:aws:lambda:us-east-1:000000000000:function:fn',
          memory_limit_in_mb: '256',
          log_group_name: '/aws/lambda/fn',
          log_stream_name: '2024/01/01/[$LATEST]abc',
          remaining_is_int: true,
          trace: 'Root=1-00000000-ctx-1;Sampled=0',
          identity: ['id-1', 'pool-1'],
          client_context: { custom: { k: 'v' }, env: { platform: 'test' }, client: ['inst', 'App', null] },
          cwd: f.taskRoot,
        });

        // Without the optional headers: no client_context, an identity with None fields.
        f.api.enqueue({ id: 'ctx-2', body: '{}' });
        const r2 = (await f.api.response('ctx-2')).json as Record<string, unknown>;
        assert.equal(r2['client_context'], null);
        assert.deepEqual(r2['identity'], [null, null]);
      },
    ));

  it('reports an exception with errorType/errorMessage/stackTrace and keeps serving', () =>
    withFixture(
      {
        'app.py': `def helper(x):
    raise ValueError("bad value: %s" % x)

def handler(event, context):
    if event.get("fail"):
        helper(event["fail"])
    return "ok"
`,
      },
      async (f) => {
        const rt = f.start('app.handler');
        f.api.enqueue({ id: 'e1', body: '{"fail":"boom"}' });
        const posted = await f.api.error('e1');
        const body = posted.json as PyError;
        assert.equal(body.errorType, 'ValueError');
        assert.equal(body.errorMessage, 'bad value: boom');
        assert.equal(body.requestId, 'e1');
        assert.equal(posted.headers['lambda-runtime-function-error-type'], 'ValueError');
        const appPy = path.join(f.taskRoot, 'app.py');
        assert.deepEqual(body.stackTrace, [
          `  File "${appPy}", line 6, in handler\n    helper(event["fail"])\n`,
          `  File "${appPy}", line 2, in helper\n    raise ValueError("bad value: %s" % x)\n`,
        ]);
        const nbsp = '\u00a0';
        await rt.waitForStdout('[ERROR] ValueError: bad value: boom\rTraceback (most recent call last):\r');
        assert.ok(
          rt.stdout().includes(`\r${nbsp.repeat(2)}File "${appPy}", line 6, in handler\r${nbsp.repeat(4)}helper(event["fail"])\r`),
          JSON.stringify(rt.stdout()),
        );

        f.api.enqueue({ id: 'e2', body: '{}' });
        assert.equal((await f.api.response('e2')).json, 'ok');
        assert.equal(rt.child.exitCode, null);
      },
    ));

  it('keeps module state across invocations', () =>
    withFixture(
      { 'counter.py': `count = 0\n\ndef handler(event, context):\n    global count\n    count += 1\n    return count\n` },
      async (f) => {
        f.start('counter.handler');
        for (const id of ['c1', 'c2', 'c3']) f.api.enqueue({ id, body: '{}' });
        assert.equal((await f.api.response('c1')).json, 1);
        assert.equal((await f.api.response('c2')).json, 2);
        assert.equal((await f.api.response('c3')).json, 3);
      },
    ));

  it('marshals like Lambda: None → null, Decimal → number, bytes raw, non-ASCII escaped; unserializable → Runtime.MarshalError', () =>
    withFixture(
      {
        'm.py': `import decimal

def handler(event, context):
    kind = event["kind"]
    if kind == "none":
        return None
    if kind == "decimal":
        return {"d": decimal.Decimal("1.10"), "n": decimal.Decimal("NaN"), "b": b"bytes", "u": "caf\\u00e9"}
    if kind == "raw":
        return b"\\x00raw"
    if kind == "set":
        return {1, 2}
`,
      },
      async (f) => {
        f.start('m.handler');
        f.api.enqueue({ id: 'none', body: '{"kind":"none"}' });
        assert.equal((await f.api.response('none')).body, 'null');
        f.api.enqueue({ id: 'dec', body: '{"kind":"decimal"}' });
        assert.equal((await f.api.response('dec')).body, '{"d": 1.10, "n": NaN, "b": "bytes", "u": "caf\\u00e9"}');
        f.api.enqueue({ id: 'raw', body: '{"kind":"raw"}' });
        const raw = await f.api.response('raw');
        assert.equal(raw.body, '\u0000raw');
        assert.equal(raw.headers['content-type'], 'application/unknown');
        f.api.enqueue({ id: 'set', body: '{"kind":"set"}' });
        const posted = await f.api.error('set');
        assert.deepEqual(posted.json, {
          errorMessage: 'Unable to marshal response: Object of type set is not JSON serializable',
          errorType: 'Runtime.MarshalError',
          requestId: 'set',
          stackTrace: [],
        });
        assert.equal(posted.headers['lambda-runtime-function-error-type'], 'Runtime.MarshalError');
      },
    ));

  it('invalid event JSON → Runtime.UnmarshalError; bad client context → Runtime.LambdaContextUnmarshalError', () =>
    withFixture({ 'app.py': ECHO }, async (f) => {
      f.start('app.handler');
      f.api.enqueue({ id: 'u1', body: '{not json' });
      const u1 = (await f.api.error('u1')).json as PyError;
      assert.equal(u1.errorType, 'Runtime.UnmarshalError');
      assert.match(u1.errorMessage, /^Unable to unmarshal input: Expecting property name enclosed in double quotes/);
      f.api.enqueue({ id: 'u2', body: '{}', headers: { 'Lambda-Runtime-Client-Context': '{oops' } });
      const u2 = (await f.api.error('u2')).json as PyError;
      assert.equal(u2.errorType, 'Runtime.LambdaContextUnmarshalError');
      assert.match(u2.errorMessage, /^Unable to parse Client Context JSON: /);
      f.api.enqueue({ id: 'u3', body: '3' });
      assert.deepEqual((await f.api.response('u3')).json, { echo: 3 });
    }));

  it('puts the task root, then /opt/python paths, ahead of the runtime directory on sys.path', () =>
    withFixture(
      {
        'app.py': `import os, sys\n\ndef handler(event, context):\n    return {"path": sys.path[:4], "pythonpath": os.environ.get("PYTHONPATH"), "stdout": type(sys.stdout).__name__}\n`,
      },
      async (f) => {
        const minor = /Python 3\.(\d+)/.exec(execFileSync(PYTHON, ['--version'], { encoding: 'utf8' }))?.[1];
        assert.deepEqual(await invokeOnce(f, 'app.handler'), {
          path: [f.taskRoot, `/opt/python/lib/python3.${minor}/site-packages`, '/opt/python', path.dirname(BOOTSTRAP)],
          pythonpath: '/var/runtime',
          stdout: 'Unbuffered',
        });
      },
    ));

  it('loads handlers from slashed and dotted module paths', () =>
    withFixture(
      {
        'pkg/sub/app.py': `def handler(event, context):\n    return __name__\n`,
      },
      async (f) => {
        assert.equal(await invokeOnce(f, 'pkg/sub/app.handler'), 'pkg.sub.app');
      },
    ).then(() =>
      withFixture(
        { 'pkg/sub/app.py': `def handler(event, context):\n    return __name__\n` },
        async (f) => {
          assert.equal(await invokeOnce(f, 'pkg.sub.app.handler'), 'pkg.sub.app');
        },
      ),
    ));
});

describe('python runtime: logging and output', () => {
  const LOGGING_APP = `import logging, sys
print("print at init")
logging.warning("warning at init")
logger = logging.getLogger()

def handler(event, context):
    print("hello from print")
    print("to stderr", file=sys.stderr)
    logger.debug("debug line")
    logger.info("info line")
    logger.warning("warn line")
    logging.getLogger("child").error("error line %s", 42)
    return "done"
`;

  it('print() goes to stdout as is; the root logger prints [LEVEL]\\ttime\\trequestId\\tmessage at WARNING by default', () =>
    withFixture({ 'app.py': LOGGING_APP }, async (f) => {
      const rt = f.start('app.handler');
      f.api.enqueue({ id: 'log-1', body: '{}' });
      assert.equal((await f.api.response('log-1')).json, 'done');
      const out = await rt.waitForStdout('error line 42');
      assert.match(out, /^print at init\n/);
      assert.match(out, LOG_LINE('WARNING', '', 'warning at init'));
      assert.match(out, /^hello from print$/m);
      assert.match(out, LOG_LINE('WARNING', 'log-1', 'warn line'));
      assert.match(out, LOG_LINE('ERROR', 'log-1', 'error line 42'));
      assert.doesNotMatch(out, /info line|debug line/, 'root logger defaults to WARNING');
      for (let i = 0; i < 100 && !rt.stderr().includes('to stderr'); i++) await new Promise((r) => setTimeout(r, 20));
      assert.match(rt.stderr(), /^to stderr$/m);
    }));

  it('AWS_LAMBDA_LOG_LEVEL sets the root level (TRACE → DEBUG)', () =>
    withFixture({ 'app.py': LOGGING_APP }, async (f) => {
      const rt = f.start('app.handler', { AWS_LAMBDA_LOG_LEVEL: 'TRACE' });
      f.api.enqueue({ id: 'log-2', body: '{}' });
      await f.api.response('log-2');
      const out = await rt.waitForStdout('error line 42');
      assert.match(out, LOG_LINE('DEBUG', 'log-2', 'debug line'));
      assert.match(out, LOG_LINE('INFO', 'log-2', 'info line'));
    }));

  it('AWS_LAMBDA_LOG_FORMAT=JSON writes one JSON object per record', () =>
    withFixture({ 'app.py': LOGGING_APP }, async (f) => {
      const rt = f.start('app.handler', { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'INFO' });
      f.api.enqueue({ id: 'log-3', body: '{}' });
      await f.api.response('log-3');
      const out = await rt.waitForStdout('error line 42');
      const records = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const info = records.find((r) => r['message'] === 'info line');
      assert.ok(info, out);
      assert.equal(info['level'], 'INFO');
      assert.equal(info['requestId'], 'log-3');
      assert.equal(info['logger'], 'root');
      assert.match(String(info['timestamp']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(records.find((r) => r['message'] === 'error line 42')?.['logger'], 'child');
    }));

  it('output written before the response is on stdout by the time the response is posted', () =>
    withFixture(
      {
        'big.py': `import sys\n\ndef handler(event, context):\n    sys.stdout.write("x" * 200000 + "END\\n")\n    return 1\n`,
      },
      async (f) => {
        const rt = f.start('big.handler');
        f.api.enqueue({ id: 'b1', body: '{}' });
        await f.api.response('b1');
        await rt.waitForStdout('END\n', 2000);
      },
    ));
});

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
