import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { CHUNK_SIZE, type ChunkStore, type ImageManifest } from '../../src/codestore/index.js';

/** The contract every ChunkStore passes: chunks named by sha256, stored once, manifests by image digest. */
export function runChunkStoreContract(name: string, make: () => Promise<{ store: ChunkStore; cleanup(): Promise<void> }>): void {
  describe(`ChunkStore contract: ${name}`, () => {
    const withStore = (fn: (s: ChunkStore) => Promise<void>) => async () => {
      const { store, cleanup } = await make();
      try {
        await fn(store);
      } finally {
        await cleanup();
      }
    };

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
      const manifest: ImageManifest = {
        digest: `sha256:${'a'.repeat(64)}`, size: 10, chunkSize: CHUNK_SIZE, chunks: [chunk.sha256],
        config: { entrypoint: ['/bin/run'], cmd: ['x'], env: ['A=1'], workingDir: '/var/task' },
      };
      await s.putImage(manifest);
      assert.deepEqual(await s.getImage(manifest.digest), manifest);
      assert.equal(await s.getImage(`sha256:${'b'.repeat(64)}`), undefined);
    }));
  });
}

