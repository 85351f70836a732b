// Invoke requests Lambda rejects before any function runs: unknown function, oversized or
// non-JSON payloads, bad invocation and log types. Seen through the SDK v3 and the AWS CLI v2;
// after each one the platform must still serve a normal invoke.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateFunctionCommand, InvokeCommand, type InvocationType, type InvokeCommandInput, type LogType } from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const SYNC_LIMIT = 6 * 1024 * 1024;

let stratus: StratusProcess;
let workDir: string;
let ran = 0;

interface SdkFailure {
  name: string;
  message: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string> };
}

/** A JSON document (a string) of exactly `bytes` bytes. */
function jsonOfSize(bytes: number): Buffer {
  return Buffer.from(`"${'a'.repeat(bytes - 2)}"`);
}

async function sdkInvoke(input: Partial<InvokeCommandInput>) {
  return stratus.lambda.send(new InvokeCommand({ FunctionName: 'req-echo', ...input }));
}

async function expectSdkError(input: Partial<InvokeCommandInput>, name: string, status: number): Promise<SdkFailure> {
  const err = await sdkInvoke(input).then(
    (out) => assert.fail(`expected ${name}, the invoke succeeded with status ${out.StatusCode}`),
    (e: unknown) => e as SdkFailure,
  );
  assert.equal(err.name, name, `got ${err.name}: ${err.message}`);
  assert.equal(err.$metadata?.httpStatusCode, status);
  return err;
}

async function cliFailure(args: string[]): Promise<string> {
  const res = await aws(stratus, ['lambda', 'invoke', ...args, join(workDir, 'out.json')]);
  assert.notEqual(res.code, 0, `the CLI succeeded: ${res.stdout}`);
  return res.stderr;
}

/**
 * The platform still serves a normal invoke in the same warm sandbox, and the rejected request
 * before it never reached the function (its run counter moved by exactly one).
 */
async function assertStillServes(): Promise<void> {
  const out = await sdkInvoke({ Payload: Buffer.from('{"still":"ok"}') });
  assert.equal(out.StatusCode, 200);
  const json = JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8')) as { bytes: number; runs: number };
  assert.equal(json.bytes, Buffer.byteLength('{"still":"ok"}'));
  assert.equal(json.runs, ran + 1, 'a rejected request ran the function (or the sandbox was replaced)');
  ran = json.runs;
}

describe('rejected invoke requests', () => {
  before(async () => {
    stratus = await startStratus();
    workDir = await mkdtemp(join(tmpdir(), 'stratus-invoke-req-'));
    const code = `let runs = 0; exports.handler = async (event) => ({ bytes: Buffer.byteLength(JSON.stringify(event)), runs: ++runs });`;
    await stratus.lambda.send(new CreateFunctionCommand({
      FunctionName: 'req-echo', Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', MemorySize: 512,
      Code: { ZipFile: await makeZip({ 'index.js': code }) },
    }));
    await assertStillServes();
  });

  after(async () => {
    await stratus?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  test('invoking a missing function gives 404 ResourceNotFoundException naming ...:$LATEST', async () => {
    const err = await expectSdkError({ FunctionName: 'no-such-function', Payload: Buffer.from('{}') }, 'ResourceNotFoundException', 404);
    assert.match(err.message, /^Function not found: arn:aws:lambda:us-east-1:\d{12}:function:no-such-function:\$LATEST$/);
    const stderr = await cliFailure(['--function-name', 'no-such-function']);
    assert.match(stderr, /An error occurred \(ResourceNotFoundException\) when calling the Invoke operation(?: \(reached max retries: \d+\))?: Function not found: arn:aws:lambda:us-east-1:\d{12}:function:no-such-function:\$LATEST$/m);
    await assertStillServes();
  });

  test('a missing qualifier of an existing function gives ResourceNotFoundException naming the qualifier', async () => {
    const err = await expectSdkError({ Qualifier: 'no-such-alias', Payload: Buffer.from('{}') }, 'ResourceNotFoundException', 404);
    assert.match(err.message, /function:req-echo:no-such-alias$/);
    await assertStillServes();
  });

  test('a payload of exactly 6291456 bytes is accepted', async () => {
    const out = await sdkInvoke({ Payload: jsonOfSize(SYNC_LIMIT) });
    assert.equal(out.StatusCode, 200);
    assert.equal(out.FunctionError, undefined);
    const json = JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8')) as { bytes: number; runs: number };
    assert.equal(json.bytes, SYNC_LIMIT);
    ran = json.runs;
  });

  test('a payload of 6291457 bytes gives 413 RequestEntityTooLargeException (SDK and CLI)', async () => {
    const err = await expectSdkError({ Payload: jsonOfSize(SYNC_LIMIT + 1) }, 'RequestEntityTooLargeException', 413);
    assert.equal(err.message, 'Request must be smaller than 6291456 bytes for the InvokeFunction operation');
    const file = join(workDir, 'too-large.json');
    await writeFile(file, jsonOfSize(SYNC_LIMIT + 1));
    const stderr = await cliFailure(['--function-name', 'req-echo', '--payload', `fileb://${file}`]);
    assert.match(stderr, /RequestEntityTooLargeException/);
    assert.match(stderr, /Request must be smaller than 6291456 bytes for the InvokeFunction operation/);
    await assertStillServes();
  });

  test('a payload that is not JSON gives 400 InvalidRequestContentException (SDK and CLI)', async () => {
    const err = await expectSdkError({ Payload: Buffer.from('{not json') }, 'InvalidRequestContentException', 400);
    assert.match(err.message, /^Could not parse request body into json/);
    const stderr = await cliFailure(['--function-name', 'req-echo', '--payload', 'definitely not json']);
    assert.match(stderr, /InvalidRequestContentException/);
    await assertStillServes();
  });

  test('an empty payload is passed to the function as {}', async () => {
    const out = await sdkInvoke({});
    assert.equal(out.StatusCode, 200);
    const json = JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8')) as { bytes: number; runs: number };
    assert.equal(json.bytes, 2);
    ran = json.runs;
  });

  test('an unknown X-Amz-Invocation-Type gives 400 ValidationException', async () => {
    const err = await expectSdkError({ InvocationType: 'Sometimes' as InvocationType, Payload: Buffer.from('{}') }, 'ValidationException', 400);
    assert.equal(err.message,
      "1 validation error detected: Value 'Sometimes' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]");
    const stderr = await cliFailure(['--function-name', 'req-echo', '--invocation-type', 'Sometimes']);
    assert.match(stderr, /ValidationException/);
    await assertStillServes();
  });

  test('an unknown X-Amz-Log-Type gives 400 ValidationException', async () => {
    const err = await expectSdkError({ LogType: 'Everything' as LogType, Payload: Buffer.from('{}') }, 'ValidationException', 400);
    assert.match(err.message, /Value 'Everything' at 'logType'/);
    await assertStillServes();
  });

  test('a client context that is not base64 JSON is rejected without running the function', async () => {
    const err = await sdkInvoke({ ClientContext: Buffer.from('not json').toString('base64'), Payload: Buffer.from('{}') }).then(
      () => assert.fail('the invoke succeeded'),
      (e: unknown) => e as SdkFailure,
    );
    assert.equal(err.$metadata?.httpStatusCode, 400, `${err.name}: ${err.message}`);
    await assertStillServes();
  });
});
