import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import type { Writable } from 'node:stream';
import { StreamRelay } from './stream-relay.js';

/** Writes `blocks`, waiting for 'drain' whenever the sink says it is full (as the worker does). */
async function writeAll(sink: Writable, blocks: Buffer[]): Promise<void> {
  for (const block of blocks) {
    if (!sink.write(block)) await new Promise((resolve) => sink.once('drain', resolve));
  }
}

describe('StreamRelay', () => {
  it('passes on everything written before end(), even to a slow reader', async () => {
    const relay = new StreamRelay();
    const sink = relay.open('text/plain');
    assert.equal(await relay.opened, 'text/plain');
    const blocks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(8192, i));
    for (const block of blocks) sink.write(block);
    relay.end();
    const received: Buffer[] = [];
    for await (const chunk of relay.chunks) {
      received.push(chunk);
      await tick();
    }
    assert.deepEqual(Buffer.concat(received), Buffer.concat(blocks));
  });

  it('after cancel() writes go nowhere but still complete, so the function is never held up', async () => {
    const relay = new StreamRelay();
    const sink = relay.open('application/octet-stream');
    await writeAll(sink, [Buffer.alloc(1024)]);
    relay.cancel();
    await writeAll(sink, Array.from({ length: 256 }, () => Buffer.alloc(16 * 1024)));
    relay.end();
  });

  it('ends at once when nothing was ever streamed', async () => {
    const relay = new StreamRelay();
    relay.end();
    const received: Buffer[] = [];
    for await (const chunk of relay.chunks) received.push(chunk);
    assert.deepEqual(received, []);
  });
});
