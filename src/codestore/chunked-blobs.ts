import { createHash } from 'node:crypto';
import { CHUNK_SIZE, type ChunkStore, type ImageRunConfig } from './chunk-store.js';
import type { CodeRef } from './code-store.js';

/** Chunks put at once while storing a chunked blob. */
const PARALLEL_PUTS = 4;
/** A chunked blob runs nothing: its manifest's run config is empty. */
const NO_CONFIG: ImageRunConfig = { entrypoint: [], cmd: [], env: [], workingDir: '' };

/** The chunk-store manifest digest under which the blob with this sha256 (hex) is stored. */
export function chunkedBlobDigest(sha256: string): string {
  return `sha256:${sha256}`;
}

/**
 * Stores a large blob (a SnapStart snapshot's tar) the way images are stored: content-addressed
 * CHUNK_SIZE chunks (shared with every image and blob that has the same bytes), then a manifest
 * named by the whole blob's sha256 (`chunkedBlobDigest`), written last. So no blob is one value
 * of the store, and the collector keeps its chunks exactly while something names the manifest.
 */
export async function putChunkedBlob(store: Pick<ChunkStore, 'putChunk' | 'putImage'>, bytes: Buffer): Promise<CodeRef> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const count = Math.max(1, Math.ceil(bytes.length / CHUNK_SIZE));
  const chunks: string[] = new Array<string>(count);
  for (let start = 0; start < count; start += PARALLEL_PUTS) {
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PUTS, count - start) }, async (_, i) => {
      const n = start + i;
      chunks[n] = (await store.putChunk(bytes.subarray(n * CHUNK_SIZE, (n + 1) * CHUNK_SIZE))).sha256;
    }));
  }
  await store.putImage({ digest: chunkedBlobDigest(sha256), size: bytes.length, chunkSize: CHUNK_SIZE, chunks, config: NO_CONFIG });
  return { sha256, size: bytes.length };
}
