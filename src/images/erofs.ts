import { open } from 'node:fs/promises';
import { CHUNK_SIZE, type ChunkStore } from '../codestore/index.js';
import { run } from './flatten.js';

/** A fixed filesystem UUID and timestamps: the same tree always gives the same bytes. */
const FIXED_UUID = '00000000-0000-0000-0000-000000000000';

/** Builds a read-only EROFS image of `rootfs`, byte-for-byte deterministic (uncompressed, so reads need no decompression). */
export async function buildErofs(mkfsPath: string, rootfs: string, out: string): Promise<void> {
  await run(mkfsPath, ['--quiet', '-T0', `-U${FIXED_UUID}`, out, rootfs]);
}

export interface ChunkedFile {
  size: number;
  chunks: string[];
  /** Chunks (and their bytes) the store did not have yet. */
  newChunks: number;
  newBytes: number;
}

/** Cuts a file into CHUNK_SIZE pieces and stores each by its sha256; chunks already stored are shared. */
export async function storeChunks(path: string, store: ChunkStore): Promise<ChunkedFile> {
  const file = await open(path, 'r');
  const result: ChunkedFile = { size: 0, chunks: [], newChunks: 0, newBytes: 0 };
  try {
    const buf = Buffer.alloc(CHUNK_SIZE);
    for (;;) {
      const { bytesRead } = await file.read(buf, 0, CHUNK_SIZE, result.size);
      if (bytesRead === 0) break;
      const put = await store.putChunk(buf.subarray(0, bytesRead));
      result.chunks.push(put.sha256);
      result.size += bytesRead;
      if (put.added) {
        result.newChunks++;
        result.newBytes += bytesRead;
      }
    }
  } finally {
    await file.close();
  }
  return result;
}
