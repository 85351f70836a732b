// A streamed response's result is handed over only once the sink has taken the whole body.
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ResponseRelay } from './response-relay.js';

describe('ResponseRelay', () => {
  it('resolves after the sink took every chunk, even when the body ended while the sink was still busy', async () => {
    const body = new PassThrough();
    const taken: string[] = [];
    let release: () => void = () => undefined;
    const sink = {
      open: () => new Writable({
        write(chunk: Buffer, _encoding, done) {
          taken.push(chunk.toString());
          // The sink holds the first chunk: the rest of the body and its end arrive meanwhile.
          if (taken.length === 1) release = () => done();
          else done();
        },
      }),
    };
    const relay = new ResponseRelay({ contentType: 'text/plain', body, errorTrailers: () => ({}) }, sink, 1024);
    let outcome: unknown;
    void relay.done.then((o) => (outcome = o));
    body.write('first;');
    body.end('second');
    await new Promise((r) => setImmediate(r));
    assert.equal(outcome, undefined, 'no result while the sink has not taken the body');
    release();
    assert.deepEqual(await relay.done, { kind: 'streamed', contentType: 'text/plain' });
    assert.deepEqual(taken, ['first;', 'second']);
  });
});
