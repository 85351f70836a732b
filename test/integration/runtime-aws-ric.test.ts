// Runtime API compatibility, proven with AWS's own runtime interface client: npm
// aws-lambda-ric 3.x runs unchanged as a provided.al2023 function's runtime, over plain HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { awsLambdaRic } from '../helpers/ric.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const BOOTSTRAP = `#!/bin/sh
cd /var/task
exec /usr/bin/node /var/task/ric/bin/index.mjs "$_HANDLER"
`;

const HANDLER = `
let calls = 0;
export const handler = async (event, context) => {
  calls++;
  if (event.fail) throw new TypeError('ric says no');
  console.log('ric handling', context.awsRequestId);
  return { echo: event, calls, requestId: context.awsRequestId, arn: context.invokedFunctionArn, remaining: context.getRemainingTimeInMillis() };
};`;

describe('aws-lambda-ric 3.x as a provided runtime', () => {
  let s: StratusProcess;
  const invoke = async (event: unknown) => {
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'ric', Payload: Buffer.from(JSON.stringify(event)), LogType: 'Tail' }));
    return { error: out.FunctionError, body: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Record<string, unknown>, log: Buffer.from(out.LogResult ?? '', 'base64').toString(), id: out.$metadata.requestId };
  };

  before(async () => {
    const ric = await awsLambdaRic();
    s = await startStratus();
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'ric', Runtime: 'provided.al2023', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler', Timeout: 10, MemorySize: 256,
      Code: { ZipFile: await makeZip({ bootstrap: BOOTSTRAP, 'index.mjs': HANDLER, ...ric }, { bootstrap: 0o100755 }) },
    }));
  });
  after(() => s?.stop());

  test('invokes run through the official client, with the request id, ARN and deadline Stratus sent', async () => {
    const first = await invoke({ hello: 'ric' });
    assert.equal(first.error, undefined, first.log);
    assert.deepEqual(first.body.echo, { hello: 'ric' });
    assert.equal(first.body.requestId, first.id);
    assert.equal(first.body.arn, 'arn:aws:lambda:us-east-1:000000000000:function:ric');
    assert.ok(Number(first.body.remaining) > 0 && Number(first.body.remaining) <= 10_000);
    assert.match(first.log, new RegExp(`\\tINFO\\tric handling ${first.id}`));
    const second = await invoke({ hello: 'again' });
    assert.equal(second.body.calls, 2, 'the same runtime process serves the second invoke');
  });

  test("a thrown error comes back in the client's own error shape", async () => {
    const r = await invoke({ fail: true });
    assert.equal(r.error, 'Unhandled');
    assert.equal(r.body.errorType, 'TypeError');
    assert.equal(r.body.errorMessage, 'ric says no');
    assert.ok(Array.isArray(r.body.trace));
    assert.equal((await invoke({})).error, undefined, 'and it keeps serving');
  });
});
