// Response streaming against a real `stratus up`: InvokeWithResponseStream through the real SDK v3
// (its event-stream parser), and function URLs in RESPONSE_STREAM mode over plain HTTP, with
// handlers written for Lambda's Node.js runtime (awslambda.streamifyResponse, HttpResponseStream).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AddPermissionCommand, CreateAliasCommand, CreateFunctionCommand, CreateFunctionUrlConfigCommand, InvokeCommand, InvokeWithResponseStreamCommand, PublishVersionCommand,
  type InvokeWithResponseStreamCommandInput,
} from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { ARN_PREFIX, createInput, expectLambdaError } from '../helpers/lambda-api.js';
import { makeZip } from '../helpers/zip.js';

const PAUSE_MS = 1000;

const HANDLERS = `const pause = (ms) => new Promise((r) => setTimeout(r, ms));
export const chunks = awslambda.streamifyResponse(async (event, stream, context) => {
  stream.setContentType('text/plain');
  stream.write('first;');
  await pause(${PAUSE_MS});
  stream.write('second@' + Date.now());
  stream.end();
});
export const failing = awslambda.streamifyResponse(async (event, stream) => {
  stream.write('partial');
  await pause(50);
  throw new RangeError('broke after the first chunk');
});
export const hanging = awslambda.streamifyResponse(async (event, stream) => {
  stream.write('started');
  await new Promise(() => setInterval(() => {}, 1000));
});
export const http = awslambda.streamifyResponse(async (event, stream) => {
  stream = awslambda.HttpResponseStream.from(stream, { statusCode: 207, headers: { 'x-streamed': 'yes' }, cookies: ['s=1'] });
  stream.write('head;');
  await pause(${PAUSE_MS});
  stream.end('tail@' + Date.now() + ';' + event.rawPath);
});
export const bulk = awslambda.streamifyResponse(async (event, stream) => {
  stream.setContentType('text/plain');
  stream.write('first;');
  await pause(${PAUSE_MS});
  const block = 'x'.repeat(64 * 1024);
  for (let i = 0; i < 64; i++) {
    if (!stream.write(block)) await new Promise((r) => stream.once('drain', r));
  }
  stream.end();
});
export const buffered = async (event, context) => ({ buffered: true, version: context.functionVersion });
export const throwing = async () => { throw new Error('plain failure'); };
`;

interface Received {
  chunks: { at: number; text: string }[];
  complete?: { ErrorCode?: string; ErrorDetails?: string; LogResult?: string };
  executed?: string;
  status?: number;
}

async function streamInvoke(s: StratusProcess, input: Partial<InvokeWithResponseStreamCommandInput> & { FunctionName: string }): Promise<Received> {
  const out = await s.lambda.send(new InvokeWithResponseStreamCommand({ Payload: Buffer.from('{}'), ...input }));
  const received: Received = { chunks: [], executed: out.ExecutedVersion, status: out.StatusCode };
  for await (const event of out.EventStream ?? []) {
    if (event.PayloadChunk?.Payload) received.chunks.push({ at: Date.now(), text: Buffer.from(event.PayloadChunk.Payload).toString('utf8') });
    if (event.InvokeComplete) received.complete = event.InvokeComplete;
  }
  return received;
}

const text = (r: Received) => r.chunks.map((c) => c.text).join('');

describe('response streaming', () => {
  let stratus: StratusProcess;
  before(async () => {
    stratus = await startStratus();
    const zip = await makeZip({ 'index.mjs': HANDLERS });
    for (const handler of ['chunks', 'bulk', 'failing', 'hanging', 'http', 'buffered', 'throwing']) {
      await stratus.lambda.send(new CreateFunctionCommand(createInput(`st-${handler}`, zip, { Handler: `index.${handler}`, Timeout: handler === 'hanging' ? 2 : 10 })));
    }
  });
  after(() => stratus?.stop());

  it('InvokeWithResponseStream delivers each chunk as the function writes it, then InvokeComplete', async () => {
    const r = await streamInvoke(stratus, { FunctionName: 'st-chunks' });
    assert.deepEqual([r.status, r.executed], [200, '$LATEST']);
    assert.match(text(r), /^first;second@\d+$/);
    const firstArrived = r.chunks.find((c) => c.text.startsWith('first'))?.at ?? Infinity;
    const secondWritten = Number(/second@(\d+)/.exec(text(r))?.[1]);
    assert.ok(firstArrived < secondWritten, `the first chunk reached the client (${firstArrived}) before the function wrote the second (${secondWritten})`);
    assert.deepEqual(r.complete, {});
  });

  it('a failure after some output ends the stream with the error in InvokeComplete; the log tail comes with it', async () => {
    const r = await streamInvoke(stratus, { FunctionName: 'st-failing', LogType: 'Tail' });
    assert.equal(text(r), 'partial');
    assert.deepEqual([r.complete?.ErrorCode, r.complete?.ErrorDetails], ['RangeError', 'broke after the first chunk']);
    const log = Buffer.from(r.complete?.LogResult ?? '', 'base64').toString('utf8');
    assert.match(log, /START RequestId: \S+ Version: \$LATEST/);
    assert.match(log, /ERROR\tInvoke Error \t\{"errorType":"RangeError"/);
    assert.match(log, /REPORT RequestId: /);
  });

  it('a function that times out mid-stream ends with Sandbox.Timedout', async () => {
    const r = await streamInvoke(stratus, { FunctionName: 'st-hanging' });
    assert.equal(text(r), 'started');
    assert.equal(r.complete?.ErrorCode, 'Sandbox.Timedout');
    assert.match(r.complete?.ErrorDetails ?? '', /Task timed out after 2\.00 seconds/);
  });

  it('a buffered handler answers as one PayloadChunk; its errors come in InvokeComplete', async () => {
    await stratus.lambda.send(new PublishVersionCommand({ FunctionName: 'st-buffered' }));
    await stratus.lambda.send(new CreateAliasCommand({ FunctionName: 'st-buffered', Name: 'live', FunctionVersion: '1' }));
    const r = await streamInvoke(stratus, { FunctionName: 'st-buffered', Qualifier: 'live' });
    assert.equal(r.executed, '1');
    assert.deepEqual([r.chunks.length, JSON.parse(text(r))], [1, { buffered: true, version: '1' }]);
    const failed = await streamInvoke(stratus, { FunctionName: 'st-throwing' });
    assert.deepEqual([failed.chunks.length, failed.complete?.ErrorCode, failed.complete?.ErrorDetails], [0, 'Error', 'plain failure']);
  });

  it('a plain Invoke of a streaming handler gets the whole streamed payload', async () => {
    const out = await stratus.lambda.send(new InvokeCommand({ FunctionName: 'st-chunks' }));
    assert.equal(out.FunctionError, undefined);
    assert.match(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8'), /^first;second@\d+$/);
  });

  it('errors before the function runs are ordinary API errors', async () => {
    await expectLambdaError(stratus.lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'st-none' })), 'ResourceNotFoundException', 404,
      `Function not found: ${ARN_PREFIX}st-none:$LATEST`);
    await expectLambdaError(stratus.lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'st-chunks', Qualifier: '7' })), 'ResourceNotFoundException', 404,
      `Function not found: ${ARN_PREFIX}st-chunks:7`);
    await expectLambdaError(stratus.lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'st-chunks', Payload: Buffer.from('not json') })), 'InvalidRequestContentException', 400);
  });

  /** A NONE URL answers only once the resource policy grants public access (as in Lambda). */
  const allowPublic = (name: string, qualifier?: string) => stratus.lambda.send(new AddPermissionCommand({
    FunctionName: name, Qualifier: qualifier, StatementId: 'public', Action: 'lambda:InvokeFunctionUrl', Principal: '*', FunctionUrlAuthType: 'NONE',
  }));

  it('a RESPONSE_STREAM function URL sends the prelude\'s status and headers, then the body as it is written', async () => {
    const config = await stratus.lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'st-http', AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM' }));
    await allowPublic('st-http');
    assert.equal(config.InvokeMode, 'RESPONSE_STREAM');
    const res = await fetch(`${config.FunctionUrl ?? ''}deep/path`);
    assert.deepEqual([res.status, res.headers.get('x-streamed'), res.headers.getSetCookie()], [207, 'yes', ['s=1']]);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const parts: { at: number; text: string }[] = [];
    for (let next = await reader.read(); !next.done; next = await reader.read()) parts.push({ at: Date.now(), text: Buffer.from(next.value).toString('utf8') });
    const body = parts.map((p) => p.text).join('');
    assert.match(body, /^head;tail@\d+;\/deep\/path$/);
    const headArrived = parts[0]?.at ?? Infinity;
    assert.ok(headArrived < Number(/tail@(\d+)/.exec(body)?.[1]), 'the first bytes reached the client before the function wrote the rest');
  });

  it('a plain streamed response keeps the function\'s content type; a client that goes away does not wedge the function', async () => {
    const config = await stratus.lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'st-bulk', AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM' }));
    await allowPublic('st-bulk');
    const warmup = await streamInvoke(stratus, { FunctionName: 'st-bulk' });
    assert.equal(text(warmup).length, 'first;'.length + 64 * 64 * 1024);
    const abort = new AbortController();
    const res = await fetch(config.FunctionUrl ?? '', { signal: abort.signal });
    assert.deepEqual([res.status, res.headers.get('content-type')], [200, 'text/plain']);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    assert.equal(Buffer.from((await reader.read()).value ?? new Uint8Array()).toString('utf8'), 'first;');
    abort.abort();
    // The function then writes 4 MB nobody reads. It must still finish (about PAUSE_MS after it
    // started) and free its environment, not block on back-pressure until its 10 s timeout.
    await new Promise((r) => setTimeout(r, 3 * PAUSE_MS));
    const again = await streamInvoke(stratus, { FunctionName: 'st-bulk', LogType: 'Tail' });
    assert.equal(again.complete?.ErrorCode, undefined);
    const report = Buffer.from(again.complete?.LogResult ?? '', 'base64').toString('utf8');
    assert.match(report, /REPORT RequestId: /);
    assert.doesNotMatch(report, /Init Duration/, 'the environment the aborted request used was free again (a warm start)');
  });

  it('a BUFFERED function URL of a streaming handler still reads its prelude', async () => {
    await stratus.lambda.send(new PublishVersionCommand({ FunctionName: 'st-http' }));
    await stratus.lambda.send(new CreateAliasCommand({ FunctionName: 'st-http', Name: 'buf', FunctionVersion: '1' }));
    const config = await stratus.lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'st-http', Qualifier: 'buf', AuthType: 'NONE' }));
    await allowPublic('st-http', 'buf');
    const res = await fetch(config.FunctionUrl ?? '');
    assert.deepEqual([res.status, res.headers.get('x-streamed')], [207, 'yes']);
    assert.match(await res.text(), /^head;tail@\d+;\/$/);
  });
});
