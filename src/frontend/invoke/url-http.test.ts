import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { corsHeaders, httpResponse, preflight, urlEvent, type UrlRequest } from './url-http.js';

const base: UrlRequest = {
  method: 'GET', rawPath: '/', rawQuery: '', headers: { host: 'h:1', 'user-agent': 'ua' }, body: Buffer.alloc(0), sourceIp: '127.0.0.1',
  requestId: 'req-1', nowMs: Date.UTC(2020, 2, 12, 19, 3, 58), urlId: 'abc', accountId: '000000000000',
};
const success = (value: unknown) => ({ kind: 'success' as const, payload: Buffer.from(JSON.stringify(value)) });

describe('function URL event (payload format 2.0)', () => {
  it('maps path, query, cookies, headers and request context', () => {
    const event = urlEvent({ ...base, method: 'POST', rawPath: '/a/b', rawQuery: 'x=1&x=2&y=%20z', headers: { ...base.headers, cookie: 'c1=v1; c2=v2', 'content-type': 'application/json' }, body: Buffer.from('{"k":1}') });
    assert.equal(event.rawPath, '/a/b');
    assert.deepEqual(event.queryStringParameters, { x: '1,2', y: ' z' });
    assert.deepEqual(event.cookies, ['c1=v1', 'c2=v2']);
    assert.equal((event.headers as Record<string, string>).cookie, undefined, 'cookies move out of the headers');
    assert.deepEqual([event.body, event.isBase64Encoded], ['{"k":1}', false]);
    const ctx = event.requestContext as Record<string, unknown>;
    assert.deepEqual(ctx.http, { method: 'POST', path: '/a/b', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'ua' });
    assert.equal(ctx.time, '12/Mar/2020:19:03:58 +0000');
    assert.equal(ctx.authorizer, undefined);
  });

  it('base64-encodes binary bodies, leaves out empty ones, and names the IAM caller', () => {
    const binary = urlEvent({ ...base, headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([0, 255]), caller: { accessKeyId: 'AKID', accountId: '000000000000' } });
    assert.deepEqual([binary.body, binary.isBase64Encoded], ['AP8=', true]);
    assert.equal(((binary.requestContext as Record<string, { iam: { accessKey: string } }>).authorizer)?.iam.accessKey, 'AKID');
    const empty = urlEvent(base);
    assert.equal('body' in empty, false);
    assert.equal(empty.queryStringParameters, undefined);
  });
});

describe('function URL response', () => {
  it('uses statusCode, headers, cookies and a base64 body', () => {
    const r = httpResponse(success({ statusCode: 201, headers: { 'X-Custom': 'v', 'Content-Type': 'text/plain' }, cookies: ['a=1', 'b=2'], body: Buffer.from('hi').toString('base64'), isBase64Encoded: true }));
    assert.deepEqual([r.status, r.headers['x-custom'], r.headers['content-type'], r.headers['set-cookie'], r.body.toString()], [201, 'v', 'text/plain', ['a=1', 'b=2'], 'hi']);
  });

  it('infers 200 application/json for JSON without a statusCode, and passes a string result on quoted', () => {
    const r = httpResponse(success({ message: 'hello' }));
    assert.deepEqual([r.status, r.headers['content-type'], r.body.toString()], [200, 'application/json', '{"message":"hello"}']);
    assert.equal(httpResponse(success('Hello, world!')).body.toString(), '"Hello, world!"');
  });

  it('answers 502 for a function error or an invalid statusCode', () => {
    assert.equal(httpResponse({ kind: 'function-error', errorType: 'Error', payload: Buffer.from('{}') }).status, 502);
    assert.equal(httpResponse(success({ statusCode: 'nope' })).status, 502);
  });

  it('reads the prelude of a buffered streamed response', () => {
    const payload = Buffer.concat([Buffer.from('{"statusCode":418,"headers":{"a":"b"}}'), Buffer.alloc(8), Buffer.from('body')]);
    const r = httpResponse({ kind: 'success', payload, contentType: 'application/vnd.awslambda.http-integration-response' });
    assert.deepEqual([r.status, r.headers.a, r.body.toString()], [418, 'b', 'body']);
  });
});

describe('function URL CORS', () => {
  const cors = { AllowOrigins: ['https://a.example'], AllowMethods: ['GET', 'POST'], AllowHeaders: ['x-h'], MaxAge: 60, ExposeHeaders: ['x-e'] };
  it('answers allowed origins only', () => {
    assert.deepEqual(corsHeaders(cors, 'https://a.example'), { 'access-control-allow-origin': 'https://a.example', 'access-control-expose-headers': 'x-e' });
    assert.deepEqual(corsHeaders(cors, 'https://evil.example'), {});
    assert.deepEqual(corsHeaders({ AllowOrigins: ['*'] }, 'https://any.example'), { 'access-control-allow-origin': '*' });
  });

  it('answers a preflight with the configured methods, headers and max age', () => {
    assert.deepEqual(preflight(cors, 'https://a.example').headers, {
      'access-control-allow-origin': 'https://a.example', 'access-control-expose-headers': 'x-e',
      'access-control-allow-methods': 'GET,POST', 'access-control-allow-headers': 'x-h', 'access-control-max-age': '60',
    });
  });
});
