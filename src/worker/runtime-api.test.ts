import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StreamedResponse } from './response-relay.js';
import { RuntimeApiServer, type NextInvocation, type RuntimeApiHandler } from './runtime-api.js';

const LIMIT = 1024;

/** A handler that records what the runtime sent and hands out invocations the test queues. */
class RecordingHandler implements RuntimeApiHandler {
  readonly calls: unknown[] = [];
  deliverNext: ((inv: NextInvocation) => void) | undefined;
  streamed: Promise<{ body: string; trailers: unknown }> | undefined;

  onNext(deliver: (inv: NextInvocation) => void): void {
    this.deliverNext = deliver;
  }
  onResponse(requestId: string, body: Buffer | 'too-large'): 'accepted' | 'unknown-request' | 'too-large' {
    this.calls.push(['response', requestId, body === 'too-large' ? body : body.toString()]);
    return requestId !== 'r1' ? 'unknown-request' : body === 'too-large' ? 'too-large' : 'accepted';
  }
  onResponseStream(requestId: string, response: StreamedResponse): 'accepted' | 'unknown-request' {
    let body = '';
    this.streamed = new Promise((resolve) => {
      response.body.on('data', (c: Buffer) => (body += c.toString()));
      response.body.on('end', () => resolve({ body, trailers: response.errorTrailers() }));
    });
    return requestId === 'r1' ? 'accepted' : 'unknown-request';
  }
  onError(requestId: string, errorType: string | undefined, body: Buffer): 'accepted' | 'unknown-request' {
    this.calls.push(['error', requestId, errorType, body.toString()]);
    return requestId === 'r1' ? 'accepted' : 'unknown-request';
  }
  onInitError(errorType: string | undefined, body: Buffer): void {
    this.calls.push(['init-error', errorType, body.toString()]);
  }
  onSpecialization(deliver: (env: Record<string, string>) => void): void {
    deliver({ A: '1' });
  }
  onRestoreNext(deliver: () => void): void {
    deliver();
  }
  onRestoreError(): void {}
  onCheckpoint(): void {}
}

interface Reply { status: number; headers: IncomingHttpHeaders; body: string }

describe('RuntimeApiServer', () => {
  let dir = '';
  let socketPath = '';
  const handler = new RecordingHandler();
  let server: RuntimeApiServer;
  const call = (method: string, path: string, body?: string, headers: Record<string, string> = {}, trailers?: Record<string, string>) =>
    new Promise<Reply>((resolve, reject) => {
      const req = request({ socketPath, method, path, headers }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString())).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      if (trailers) req.addTrailers(trailers);
      req.end();
    });
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runtime-api-test-'));
    socketPath = join(dir, 'runtime.sock');
    server = new RuntimeApiServer(socketPath, handler, LIMIT);
    await server.listen();
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('/invocation/next waits for an invocation and carries it in Lambda\'s headers', async () => {
    const next = call('GET', '/2018-06-01/runtime/invocation/next');
    while (!handler.deliverNext) await new Promise((r) => setTimeout(r, 5));
    handler.deliverNext({ requestId: 'r1', payload: Buffer.from('{"x":1}'), deadlineMs: 42, invokedFunctionArn: 'arn:f', traceId: 'T', clientContext: 'cc' });
    const reply = await next;
    assert.equal(reply.status, 200);
    assert.equal(reply.body, '{"x":1}');
    assert.equal(reply.headers['lambda-runtime-aws-request-id'], 'r1');
    assert.equal(reply.headers['lambda-runtime-deadline-ms'], '42');
    assert.equal(reply.headers['lambda-runtime-invoked-function-arn'], 'arn:f');
    assert.equal(reply.headers['lambda-runtime-trace-id'], 'T');
    assert.equal(reply.headers['lambda-runtime-client-context'], 'cc');
    assert.equal(reply.headers['lambda-runtime-cognito-identity'], undefined);
  });

  it('answers responses, errors and their mistakes in the Runtime API\'s own shapes', async () => {
    assert.deepEqual(await bodyOf(call('POST', '/2018-06-01/runtime/invocation/r1/response', 'ok')), [202, { status: 'OK' }]);
    assert.deepEqual(await bodyOf(call('POST', '/2018-06-01/runtime/invocation/r1/response', 'x'.repeat(LIMIT + 1))), [413, { errorType: 'RequestEntityTooLarge', errorMessage: 'Response payload too large' }]);
    assert.deepEqual(await bodyOf(call('POST', '/2018-06-01/runtime/invocation/zz/response', 'ok')), [400, { errorType: 'InvalidRequestID', errorMessage: 'Invalid request ID' }]);
    assert.deepEqual(await bodyOf(call('POST', '/2018-06-01/runtime/invocation/r1/error', '{"e":1}', { 'lambda-runtime-function-error-type': 'Oops' })), [202, { status: 'OK' }]);
    assert.deepEqual(await bodyOf(call('POST', '/2018-06-01/runtime/init/error', 'bad', { 'lambda-runtime-function-error-type': 'Init' })), [202, { status: 'OK' }]);
    assert.deepEqual(await bodyOf(call('GET', '/2018-06-01/runtime/nothing')), [404, { errorType: 'InvalidRequest', errorMessage: 'No route for GET /2018-06-01/runtime/nothing' }]);
    assert.deepEqual(handler.calls, [
      ['response', 'r1', 'ok'], ['response', 'r1', 'too-large'], ['response', 'zz', 'ok'], ['error', 'r1', 'Oops', '{"e":1}'], ['init-error', 'Init', 'bad'],
    ]);
    assert.deepEqual(await bodyOf(call('GET', '/2018-06-01/stratus/specialization')), [200, { A: '1' }]);
    assert.equal((await call('GET', '/2018-06-01/runtime/restore/next')).status, 200);
  });

  it('a streamed response is passed on as it arrives, its error trailers with it, and answered once it ends', async () => {
    const reply = await call('POST', '/2018-06-01/runtime/invocation/r1/response', 'part', {
      'lambda-runtime-function-response-mode': 'streaming', 'transfer-encoding': 'chunked', trailer: 'Lambda-Runtime-Function-Error-Type',
    }, { 'Lambda-Runtime-Function-Error-Type': 'Mid' });
    assert.equal(reply.status, 202);
    assert.deepEqual(await handler.streamed, { body: 'part', trailers: { errorType: 'Mid', errorBody: undefined } });
  });
});

async function bodyOf(reply: Promise<Reply>): Promise<[number, unknown]> {
  const { status, body } = await reply;
  return [status, JSON.parse(body) as unknown];
}
