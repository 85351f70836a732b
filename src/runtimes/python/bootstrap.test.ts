/**
 * Python runtime (python3.11): invocations — responses, the context object, function errors,
 * marshalling, sys.path and handler loading. Fixture in testing/python-runtime.ts; logging in
 * bootstrap-logging.test.ts, init errors and Runtime API trouble in bootstrap-errors.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { BOOTSTRAP, ECHO, PYTHON, invokeOnce, withFixture, type PyError } from './testing/python-runtime.js';

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
