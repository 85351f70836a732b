import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { CHUNK_SIZE, type ChunkStore, type ImageRunConfig } from './chunk-store.js';
import type { CodeRef } from './code-store.js';

/** Chunks put at once. */
const PARALLEL_PUTS = 4;
/** A chunked blob runs nothing: its manifest's run config is empty. */
const NO_CONFIG: ImageRunConfig = { entrypoint: [], cmd: [], env: [], workingDir: '' };

/** Where the chunker reads from, front to back: the next bytes (at most `length`, a fresh buffer); empty at the end. */
export interface ChunkReader {
  next(length: number): Promise<Buffer>;
}

/** What `storeChunks` stored. */
export interface StoredChunks {
  /** sha256 (hex) of the whole input. */
  sha256: string;
  size: number;
  /** sha256 (hex) of each CHUNK_SIZE piece, in order (every one but the last is CHUNK_SIZE). */
  chunks: string[];
  /** Chunks (and their bytes) the store did not have yet. */
  newChunks: number;
  newBytes: number;
}

/** Reads a buffer (its pieces are views of it, not copies). */
export function bufferReader(bytes: Buffer): ChunkReader {
  const at = { offset: 0 };
  return {
    async next(length) {
      const piece = bytes.subarray(at.offset, at.offset + length);
      at.offset += piece.length;
      return piece;
    },
  };
}

/** Opens a file and hands `use` a reader of it; the file is closed once `use` settles. */
export async function withFileReader<T>(path: string, use: (reader: ChunkReader) => Promise<T>): Promise<T> {
  const file = await open(path, 'r');
  const at = { offset: 0 };
  try {
    return await use({
      async next(length) {
        const buf = Buffer.alloc(length);
        let filled = 0;
        while (filled < length) {
          const { bytesRead } = await file.read(buf, filled, length - filled, at.offset + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        at.offset += filled;
        return buf.subarray(0, filled);
      },
    });
  } finally {
    await file.close();
  }
}

/**
 * The one chunker: cuts what `reader` gives into CHUNK_SIZE pieces and stores each under its
 * sha256 (chunks already stored are shared), a few puts at a time. Writes no manifest: the
 * caller writes it once this resolves, so a failed put (this rejects, after the puts in flight
 * have settled) leaves no manifest naming a missing chunk.
 */
export async function storeChunks(store: Pick<ChunkStore, 'putChunk'>, reader: ChunkReader): Promise<StoredChunks> {
  const whole = createHash('sha256');
  const result: StoredChunks = { sha256: '', size: 0, chunks: [], newChunks: 0, newBytes: 0 };
  for (let done = false; !done;) {
    const batch: Buffer[] = [];
    while (batch.length < PARALLEL_PUTS) {
      const piece = await reader.next(CHUNK_SIZE);
      if (piece.length > 0) {
        whole.update(piece);
        batch.push(piece);
      }
      if (piece.length < CHUNK_SIZE) {
        done = true;
        break;
      }
    }
    const puts = await Promise.allSettled(batch.map((piece) => store.putChunk(piece)));
    for (const [i, put] of puts.entries()) {
      if (put.status === 'rejected') throw put.reason;
      const size = batch[i]?.length ?? 0;
      result.chunks.push(put.value.sha256);
      result.size += size;
      if (put.value.added) {
        result.newChunks++;
        result.newBytes += size;
      }
    }
  }
  result.sha256 = whole.digest('hex');
  return result;
}

/** The chunk-store manifest digest under which the blob with this sha256 (hex) is stored. */
export function chunkedBlobDigest(sha256: string): string {
  return `sha256:${sha256}`;
}

/**
 * Stores a large blob (a SnapStart snapshot's tar) the way images are stored: its chunks
 * (`storeChunks`), then a manifest named by the whole blob's sha256 (`chunkedBlobDigest`),
 * written last. So no blob is one value of the store, and the collector keeps its chunks
 * exactly while something names the manifest.
 */
export async function putChunkedBlob(store: Pick<ChunkStore, 'putChunk' | 'putImage'>, bytes: Buffer): Promise<CodeRef> {
  const stored = await storeChunks(store, bufferReader(bytes));
  await store.putImage({ digest: chunkedBlobDigest(stored.sha256), size: stored.size, chunkSize: CHUNK_SIZE, chunks: stored.chunks, config: NO_CONFIG });
  return { sha256: stored.sha256, size: stored.size };
}
