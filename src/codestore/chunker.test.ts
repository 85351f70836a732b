import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHUNK_SIZE } from './chunk-store.js';
import { bufferReader, chunkedBlobDigest, putChunkedBlob, storeChunks, withFileReader } from './chunker.js';
import { MemoryChunkStore } from './memory-chunk-store.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('cuts at CHUNK_SIZE boundaries, a buffer and a file alike, names the whole by its sha256 and counts only new chunks', async () => {
  // 9 chunks and a bit (more than two batches of parallel puts); chunks 0 and 5 are the same bytes.
  const bytes = randomBytes(9 * CHUNK_SIZE + 1234);
  bytes.copy(bytes, 5 * CHUNK_SIZE, 0, CHUNK_SIZE);
  const pieces = Array.from({ length: 10 }, (_, i) => bytes.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE));
  const store = new MemoryChunkStore();
  const fromBuffer = await storeChunks(store, bufferReader(bytes));
  assert.equal(fromBuffer.sha256, sha(bytes));
  assert.equal(fromBuffer.size, bytes.length);
  assert.deepEqual(fromBuffer.chunks, pieces.map(sha), 'each chunk in order, named by its own sha256');
  assert.equal(pieces.at(-1)?.length, 1234, 'the last chunk is the rest');
  assert.equal(fromBuffer.newChunks, 9, 'the repeated chunk is stored once');
  assert.equal(fromBuffer.newBytes, bytes.length - CHUNK_SIZE);
  for (const [i, name] of fromBuffer.chunks.entries()) assert.deepEqual(await store.getChunk(name), pieces[i]);

  const dir = await mkdtemp(join(tmpdir(), 'stratus-chunker-'));
  try {
    const path = join(dir, 'image');
    await writeFile(path, bytes);
    const fromFile = await withFileReader(path, (reader) => storeChunks(store, reader));
    assert.deepEqual({ ...fromFile, newChunks: 0, newBytes: 0 }, { ...fromBuffer, newChunks: 0, newBytes: 0 }, 'the same chunks from a file');
    assert.equal(fromFile.newChunks, 0, 'all already stored');
    assert.equal(fromFile.newBytes, 0);
    // Exactly one chunk: no empty chunk after it.
    const one = randomBytes(CHUNK_SIZE);
    await writeFile(path, one);
    const single = await withFileReader(path, (reader) => storeChunks(store, reader));
    assert.deepEqual(single.chunks, [sha(one)]);
    assert.equal(single.newChunks, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const empty = await storeChunks(store, bufferReader(Buffer.alloc(0)));
  assert.deepEqual(empty, { sha256: sha(Buffer.alloc(0)), size: 0, chunks: [], newChunks: 0, newBytes: 0 });
});

test('puts a few chunks at once, never more', async () => {
  const store = new MemoryChunkStore();
  const seen = { now: 0, max: 0 };
  const slow = {
    async putChunk(b: Buffer) {
      seen.max = Math.max(seen.max, ++seen.now);
      await new Promise((resolve) => setImmediate(resolve));
      seen.now--;
      return store.putChunk(b);
    },
  };
  await storeChunks(slow, bufferReader(randomBytes(10 * CHUNK_SIZE)));
  assert.ok(seen.max > 1, `puts overlap (at most ${seen.max} at once)`);
  assert.ok(seen.max <= 4, `at most 4 puts at once, saw ${seen.max}`);
});

test('a failing put rejects after the puts in flight settle, and leaves no manifest', async () => {
  const store = new MemoryChunkStore();
  const bytes = randomBytes(6 * CHUNK_SIZE);
  const failing = sha(bytes.subarray(2 * CHUNK_SIZE, 3 * CHUNK_SIZE));
  const inFlight = { now: 0 };
  const flaky = {
    putChunk: async (b: Buffer) => {
      inFlight.now++;
      try {
        await new Promise((resolve) => setImmediate(resolve));
        if (sha(b) === failing) throw new Error('etcd is gone');
        return await store.putChunk(b);
      } finally {
        inFlight.now--;
      }
    },
    putImage: store.putImage.bind(store),
  };
  await assert.rejects(putChunkedBlob(flaky, bytes), /etcd is gone/);
  assert.equal(inFlight.now, 0, 'no put still running once it rejected');
  assert.equal(await store.getImage(chunkedBlobDigest(sha(bytes))), undefined, 'no manifest');
  assert.deepEqual(await store.listImages(), []);

  const ref = await putChunkedBlob(store, bytes);
  assert.deepEqual(ref, { sha256: sha(bytes), size: bytes.length });
  const manifest = await store.getImage(chunkedBlobDigest(ref.sha256));
  assert.equal(manifest?.chunks.length, 6);
  assert.equal(manifest?.chunkSize, CHUNK_SIZE);
});
