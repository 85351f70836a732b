// provided.al2023 / provided.al2: the function's own executable `bootstrap` drives the Runtime API
// over plain HTTP at AWS_LAMBDA_RUNTIME_API, as in AWS's custom-runtime tutorial (sh + curl).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, type Runtime } from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';

/** AWS's tutorial bootstrap, in POSIX sh with curl: echoes the event with the request id. */
const BOOTSTRAP = `#!/bin/sh
set -eu
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
HEADERS="$(mktemp)"
while true; do
  EVENT=$(curl -sS -LD "$HEADERS" "$API/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  case "$EVENT" in
    *fail*) curl -sS -X POST -H 'Lambda-Runtime-Function-Error-Type: Function.Custom' \\
              -d '{"errorType":"Function.Custom","errorMessage":"asked to fail"}' "$API/invocation/$REQUEST_ID/error" >/dev/null ;;
    *) echo "handling $REQUEST_ID"
       curl -sS -X POST -d "{\\"echo\\":$EVENT,\\"requestId\\":\\"$REQUEST_ID\\",\\"handler\\":\\"$_HANDLER\\"}" "$API/invocation/$REQUEST_ID/response" >/dev/null ;;
  esac
done
`;

const BROKEN_BOOTSTRAP = `#!/bin/sh
curl -sS -X POST -H 'Lambda-Runtime-Function-Error-Type: Runtime.ConfigError' \\
  -d '{"errorType":"Runtime.ConfigError","errorMessage":"missing configuration"}' \\
  "http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/init/error" >/dev/null
exit 1
`;

describe('provided runtimes', () => {
  let s: StratusProcess;
  const create = async (name: string, runtime: string, bootstrap: string) =>
    s.lambda.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: runtime as Runtime, Role: ROLE, Handler: 'function.handler',
      Code: { ZipFile: await makeZip({ bootstrap }, { bootstrap: 0o100755 }) },
    }));
  const invoke = async (name: string, event: unknown) => {
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)), LogType: 'Tail' }));
    return { error: out.FunctionError, body: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Record<string, unknown>, log: Buffer.from(out.LogResult ?? '', 'base64').toString() };
  };

  before(async () => {
    s = await startStratus();
    await create('curl-al2023', 'provided.al2023', BOOTSTRAP);
    await create('curl-al2', 'provided.al2', BOOTSTRAP);
    await create('broken', 'provided.al2023', BROKEN_BOOTSTRAP);
  });
  after(() => s.stop());

  for (const name of ['curl-al2023', 'curl-al2']) {
    test(`${name}: a sh + curl bootstrap serves invocations over TCP, warm after the first`, async () => {
      const first = await invoke(name, { n: 1 });
      assert.equal(first.error, undefined, first.log);
      assert.deepEqual(first.body.echo, { n: 1 });
      assert.equal(first.body.handler, 'function.handler');
      assert.match(first.log, new RegExp(`handling ${String(first.body.requestId)}`));
      assert.match(first.log, /Init Duration/);
      const second = await invoke(name, { n: 2 });
      assert.deepEqual(second.body.echo, { n: 2 });
      assert.doesNotMatch(second.log, /Init Duration/, 'the second invoke is warm');
    });
  }

  test('an error posted to /invocation/{id}/error reaches the caller as a function error', async () => {
    const r = await invoke('curl-al2023', { fail: true });
    assert.equal(r.error, 'Unhandled');
    assert.deepEqual(r.body, { errorType: 'Function.Custom', errorMessage: 'asked to fail' });
    assert.deepEqual((await invoke('curl-al2023', { n: 3 })).body.echo, { n: 3 }, 'the runtime keeps serving');
  });

  test('an error posted to /runtime/init/error is what the caller gets', async () => {
    const r = await invoke('broken', {});
    assert.equal(r.error, 'Unhandled');
    assert.deepEqual(r.body, { errorType: 'Runtime.ConfigError', errorMessage: 'missing configuration' });
  });
});
