import { createHash } from 'node:crypto';
import { StratusError } from '../shared/errors.js';
import type { ChunkPutResult, ChunkStore, ImageManifest } from './chunk-store.js';

/** In-memory fake ChunkStore for unit tests. */
export class MemoryChunkStore implements ChunkStore {
  private readonly chunks = new Map<string, Buffer>();
  private readonly images = new Map<string, ImageManifest>();

  async putChunk(bytes: Buffer): Promise<ChunkPutResult> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const added = !this.chunks.has(sha256);
    if (added) this.chunks.set(sha256, Buffer.from(bytes));
    return { sha256, added };
  }

  async getChunk(sha256: string): Promise<Buffer> {
    const chunk = this.chunks.get(sha256);
    if (!chunk) throw new StratusError('ResourceNotFound', `Image chunk ${sha256} is not in the code store`);
    return Buffer.from(chunk);
  }

  async hasChunk(sha256: string): Promise<boolean> {
    return this.chunks.has(sha256);
  }

  async putImage(manifest: ImageManifest): Promise<void> {
    this.images.set(manifest.digest, structuredClone(manifest));
  }

  async getImage(digest: string): Promise<ImageManifest | undefined> {
    const manifest = this.images.get(digest);
    return manifest && structuredClone(manifest);
  }
}
