import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventStreamCodec } from '@smithy/core/event-streams';
import { crc32, invokeComplete, payloadChunk } from './eventstream.js';

const toUtf8 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
const fromUtf8 = (text: string): Uint8Array => Buffer.from(text, 'utf8');

describe('event-stream encoding (InvokeWithResponseStream)', () => {
  it('computes CRC-32 (IEEE): the standard check values', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(Buffer.from('The quick brown fox jumps over the lazy dog')), 0x414fa339);
  });

  it('writes messages the AWS SDK decodes: PayloadChunk with raw bytes, InvokeComplete with JSON', () => {
    const codec = new EventStreamCodec(toUtf8, fromUtf8);
    const bytes = Buffer.from([0, 1, 2, 255, 0, 0, 0, 0, 0, 0, 0, 0, 65]);
    const chunk = codec.decode(payloadChunk(bytes));
    assert.deepEqual(Buffer.from(chunk.body), bytes);
    assert.deepEqual(chunk.headers, {
      ':event-type': { type: 'string', value: 'PayloadChunk' },
      ':content-type': { type: 'string', value: 'application/octet-stream' },
      ':message-type': { type: 'string', value: 'event' },
    });
    const complete = codec.decode(invokeComplete({ ErrorCode: 'Error', ErrorDetails: 'boom ✓', LogResult: 'U1RBUlQ=' }));
    assert.equal(complete.headers[':event-type']?.value, 'InvokeComplete');
    assert.deepEqual(JSON.parse(toUtf8(complete.body)), { ErrorCode: 'Error', ErrorDetails: 'boom ✓', LogResult: 'U1RBUlQ=' });
  });

  it('is refused by the decoder when a byte is flipped (both CRCs are real)', () => {
    const codec = new EventStreamCodec(toUtf8, fromUtf8);
    for (const at of [2, 20, 40]) {
      const message = payloadChunk(Buffer.from('some payload bytes'));
      message[at] = (message[at] ?? 0) ^ 0x01;
      assert.throws(() => codec.decode(message));
    }
  });
});
