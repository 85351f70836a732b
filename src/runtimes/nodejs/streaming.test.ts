/**
 * Node.js runtime: response streaming (awslambda.streamifyResponse, HttpResponseStream) over the
 * Runtime API's streaming mode. Runs the built bootstrap.mjs against a fake Runtime API.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFixture, type Fixture, type Posted } from './testing/fake-runtime-api.js';

async function withHandler(source: string, fn: (f: Fixture) => Promise<void>): Promise<void> {
  const f = await createFixture({ 'index.mjs': source });
  try {
    f.start('index.handler');
    await fn(f);
  } finally {
    await f.cleanup();
  }
}

function errorOf(posted: Posted): { type?: string; body: { errorType: string; errorMessage: string } } {
  const encoded = posted.trailers['lambda-runtime-function-error-body'] ?? '';
  return { type: posted.trailers['lambda-runtime-function-error-type'], body: JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) };
}

describe('nodejs runtime: response streaming', () => {
  it('streams chunks as the handler writes them, in streaming mode, chunked', () =>
    withHandler(
      `export const handler = awslambda.streamifyResponse(async (event, stream, context) => {
  stream.setContentType('text/plain');
  stream.write('first:' + context.awsRequestId + ';');
  await new Promise((r) => setTimeout(r, 400));
  stream.write('second:' + Date.now());
  stream.end();
});\n`,
      async (f) => {
        f.api.enqueue({ id: 's-1', body: '{}' });
        const posted = await f.api.response('s-1');
        assert.equal(posted.headers['lambda-runtime-function-response-mode'], 'streaming');
        assert.equal(posted.headers['transfer-encoding'], 'chunked');
        assert.equal(posted.headers['content-type'], 'text/plain');
        assert.match(posted.body, /^first:s-1;second:\d+$/);
        const firstAt = posted.chunks.find((c) => c.data.toString().startsWith('first'))?.at ?? Infinity;
        const secondWrittenAt = Number(/second:(\d+)/.exec(posted.body)?.[1]);
        assert.ok(firstAt <= secondWrittenAt, 'the first chunk reached the Runtime API before the second was written');
        assert.deepEqual(posted.trailers, {}, 'no error trailers');
        f.api.enqueue({ id: 's-2', body: '{}' });
        await f.api.response('s-2');
      },
    ));

  it('HttpResponseStream.from writes the JSON prelude and 8 NUL bytes before the body', () =>
    withHandler(
      `export const handler = awslambda.streamifyResponse(async (event, stream) => {
  stream = awslambda.HttpResponseStream.from(stream, { statusCode: 201, headers: { 'x-a': 'b' } });
  stream.end('body');
});\n`,
      async (f) => {
        f.api.enqueue({ id: 'h-1', body: '{}' });
        const posted = await f.api.response('h-1');
        assert.equal(posted.headers['content-type'], 'application/vnd.awslambda.http-integration-response');
        assert.equal(posted.body, `{"statusCode":201,"headers":{"x-a":"b"}}${'\u0000'.repeat(8)}body`);
      },
    ));

  it('reports a throw after some output in the trailers, and serves the next invocation', () =>
    withHandler(
      `export const handler = awslambda.streamifyResponse(async (event, stream) => {
  stream.write('partial');
  if (event.fail) throw new TypeError('broke midway');
  stream.end('done');
});\n`,
      async (f) => {
        f.api.enqueue({ id: 'e-1', body: '{"fail":true}' });
        const posted = await f.api.response('e-1');
        assert.equal(posted.body, 'partial');
        const { type, body } = errorOf(posted);
        assert.equal(type, 'TypeError');
        assert.deepEqual([body.errorType, body.errorMessage], ['TypeError', 'broke midway']);
        f.api.enqueue({ id: 'e-2', body: '{}' });
        assert.equal((await f.api.response('e-2')).body, 'partialdone');
      },
    ));

  it('fails a handler that returns without ending the stream, like Lambda', () =>
    withHandler(
      `export const handler = awslambda.streamifyResponse(async (event, stream) => { stream.write('x'); });\n`,
      async (f) => {
        f.api.enqueue({ id: 'u-1', body: '{}' });
        const { body } = errorOf(await f.api.response('u-1'));
        assert.deepEqual([body.errorType, body.errorMessage], ['string', 'Response stream is not finished.']);
      },
    ));

  it('leaves ordinary handlers buffered, with the awslambda global in place', () =>
    withHandler(`export const handler = async () => ({ hasGlobal: typeof awslambda });\n`, async (f) => {
      f.api.enqueue({ id: 'b-1', body: '{}' });
      const posted = await f.api.response('b-1');
      assert.equal(posted.headers['lambda-runtime-function-response-mode'], undefined);
      assert.deepEqual(posted.json, { hasGlobal: 'object' });
    }));

  it('has no awslambda global with AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA=true', async () => {
    const f = await createFixture({ 'index.mjs': `export const handler = async () => ({ hasGlobal: typeof awslambda });\n` });
    try {
      f.start('index.handler', { AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA: 'true' });
      f.api.enqueue({ id: 'n-1', body: '{}' });
      assert.deepEqual((await f.api.response('n-1')).json, { hasGlobal: 'undefined' });
    } finally {
      await f.cleanup();
    }
  });
});
