import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { CHUNK_SIZE, type ChunkStore, type ImageManifest } from '../../src/codestore/index.js';
import { ManualClock } from '../../src/shared/clock.js';

/**
 * The contract every ChunkStore passes: chunks named by sha256, stored once, manifests by image
 * digest, and what the code collector relies on (listing, last-put times that a repeated put or
 * a touch refreshes, deletes conditional on them). `make` builds the store on the given clock.
 */
export function runChunkStoreContract(name: string, make: (clock: ManualClock) => Promise<{ store: ChunkStore; cleanup(): Promise<void> }>): void {
  describe(`ChunkStore contract: ${name}`, () => {
    const withStore = (fn: (s: ChunkStore, clock: ManualClock) => Promise<void>) => async () => {
      const clock = new ManualClock();
      const { store, cleanup } = await make(clock);
      try {
        await fn(store, clock);
      } finally {
        await cleanup();
      }
    };
    const manifestOf = (digestChar: string, chunks: string[]): ImageManifest => ({
      digest: `sha256:${digestChar.repeat(64)}`, size: 10, chunkSize: CHUNK_SIZE, chunks,
      config: { entrypoint: ['/bin/run'], cmd: ['x'], env: ['A=1'], workingDir: '/var/task' },
    });

    it('names a chunk by its sha256 and stores it once', withStore(async (s) => {
      const bytes = Buffer.alloc(CHUNK_SIZE, 7);
      const first = await s.putChunk(bytes);
      assert.deepEqual(first, { sha256: createHash('sha256').update(bytes).digest('hex'), added: true });
      assert.deepEqual(await s.putChunk(Buffer.from(bytes)), { sha256: first.sha256, added: false });
      assert.deepEqual(await s.getChunk(first.sha256), bytes);
      assert.equal(await s.hasChunk(first.sha256), true);
    }));

    it('reports a missing chunk as ResourceNotFound', withStore(async (s) => {
      const missing = createHash('sha256').update('nope').digest('hex');
      assert.equal(await s.hasChunk(missing), false);
      await assert.rejects(s.getChunk(missing), { code: 'ResourceNotFound' });
    }));

    it('keeps an image manifest by digest, and nothing for an unknown digest', withStore(async (s) => {
      const chunk = await s.putChunk(Buffer.from('tail chunk'));
      const manifest = manifestOf('a', [chunk.sha256]);
      await s.putImage(manifest);
      assert.deepEqual(await s.getImage(manifest.digest), manifest);
      assert.equal(await s.getImage(`sha256:${'b'.repeat(64)}`), undefined);
    }));

    it('lists chunks and manifests with last-put times that a repeated put or a touch refreshes', withStore(async (s, clock) => {
      const t0 = clock.now();
      const chunk = await s.putChunk(Buffer.from('one chunk'));
      await s.putImage(manifestOf('c', [chunk.sha256]));
      assert.deepEqual(await s.listChunks(), [{ sha256: chunk.sha256, size: 9, lastPutMs: t0 }]);
      assert.deepEqual(await s.listImages(), [{ digest: `sha256:${'c'.repeat(64)}`, chunks: [chunk.sha256], lastPutMs: t0 }]);
      clock.advance(7000);
      await s.putChunk(Buffer.from('one chunk'));
      assert.equal(await s.touchImage(`sha256:${'c'.repeat(64)}`), true);
      assert.equal(await s.touchImage(`sha256:${'d'.repeat(64)}`), false, 'no such manifest');
      assert.deepEqual((await s.listChunks()).map((c) => c.lastPutMs), [t0 + 7000]);
      assert.deepEqual((await s.listImages()).map((i) => i.lastPutMs), [t0 + 7000]);
    }));

    it('deletes a chunk or a manifest only if it was last put before the time given', withStore(async (s, clock) => {
      const t0 = clock.now();
      const chunk = await s.putChunk(Buffer.from('old chunk'));
      const digest = `sha256:${'e'.repeat(64)}`;
      await s.putImage(manifestOf('e', [chunk.sha256]));
      clock.advance(1000);
      assert.equal(await s.deleteChunkIfPutBefore(chunk.sha256, t0), false);
      assert.equal(await s.deleteImageIfPutBefore(digest, t0), false);
      assert.equal(await s.hasChunk(chunk.sha256), true);
      assert.equal(await s.deleteImageIfPutBefore(digest, t0 + 1), true);
      assert.equal(await s.deleteChunkIfPutBefore(chunk.sha256, t0 + 1), true);
      assert.equal(await s.hasChunk(chunk.sha256), false);
      assert.equal(await s.getImage(digest), undefined);
      assert.deepEqual([await s.listChunks(), await s.listImages()], [[], []]);
      assert.equal(await s.touchImage(digest), false, 'a deleted manifest cannot be touched back');
      assert.equal((await s.putChunk(Buffer.from('old chunk'))).added, true, 'stored again after a delete');
    }));

    it('a put racing a delete of the same chunk leaves it stored', withStore(async (s, clock) => {
      const bytes = Buffer.alloc(CHUNK_SIZE, 3);
      const { sha256 } = await s.putChunk(bytes);
      clock.advance(10_000);
      for (let round = 0; round < 5; round++) {
        await Promise.all([s.deleteChunkIfPutBefore(sha256, clock.now()), s.putChunk(bytes)]);
        assert.ok((await s.getChunk(sha256)).equals(bytes), `round ${round}`);
        clock.advance(10_000);
      }
    }));
  });
}
