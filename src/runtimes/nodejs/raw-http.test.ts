import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseResponse } from './raw-http.cjs';

describe('raw HTTP response parsing', () => {
  const ok = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: abc\r\nContent-Length: 7\r\n\r\n';

  it('waits for the whole body, then returns it with lower-case headers and what it consumed', () => {
    assert.equal(parseResponse(Buffer.from(`${ok}{"a":`)), undefined);
    const parsed = parseResponse(Buffer.from(`${ok}{"a":1}HTTP/1.1 202`));
    assert.equal(parsed?.response.status, 200);
    assert.equal(parsed?.response.headers['lambda-runtime-aws-request-id'], 'abc');
    assert.equal(parsed?.response.body.toString(), '{"a":1}');
    assert.equal(parsed?.consumed, ok.length + 7, 'the next response stays in the buffer');
  });

  it('decodes chunked bodies, and waits for the last chunk', () => {
    const head = 'HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n';
    assert.equal(parseResponse(Buffer.from(`${head}5\r\nhello\r\n`)), undefined);
    const parsed = parseResponse(Buffer.from(`${head}5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`));
    assert.equal(parsed?.response.status, 202);
    assert.equal(parsed?.response.body.toString(), 'hello world');
  });

  it('reads a response without a body', () => {
    const parsed = parseResponse(Buffer.from('HTTP/1.1 204 No Content\r\n\r\n'));
    assert.deepEqual([parsed?.response.status, parsed?.response.body.length], [204, 0]);
  });
});
