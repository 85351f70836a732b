import { createHash } from 'node:crypto';
import { systemClock, type Clock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import type { StoredBlob } from './code-store.js';
import type { ChunkPutResult, ChunkStore, ImageManifest, StoredImage } from './chunk-store.js';

/** In-memory fake ChunkStore for unit tests. */
export class MemoryChunkStore implements ChunkStore {
  private readonly chunks = new Map<string, { bytes: Buffer; lastPutMs: number }>();
  private readonly images = new Map<string, { manifest: ImageManifest; lastPutMs: number }>();

  constructor(private readonly clock: Clock = systemClock) {}

  async putChunk(bytes: Buffer): Promise<ChunkPutResult> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const stored = this.chunks.get(sha256);
    this.chunks.set(sha256, { bytes: stored?.bytes ?? Buffer.from(bytes), lastPutMs: this.clock.now() });
    return { sha256, added: !stored };
  }

  async getChunk(sha256: string): Promise<Buffer> {
    const chunk = this.chunks.get(sha256);
    if (!chunk) throw new StratusError('ResourceNotFound', `Image chunk ${sha256} is not in the code store`);
    return Buffer.from(chunk.bytes);
  }

  async hasChunk(sha256: string): Promise<boolean> {
    return this.chunks.has(sha256);
  }

  async putImage(manifest: ImageManifest): Promise<void> {
    this.images.set(manifest.digest, { manifest: structuredClone(manifest), lastPutMs: this.clock.now() });
  }

  async getImage(digest: string): Promise<ImageManifest | undefined> {
    const stored = this.images.get(digest);
    return stored && structuredClone(stored.manifest);
  }

  async touchImage(digest: string): Promise<boolean> {
    const stored = this.images.get(digest);
    if (stored) stored.lastPutMs = this.clock.now();
    return stored !== undefined;
  }

  async listChunks(): Promise<StoredBlob[]> {
    return [...this.chunks].map(([sha256, c]) => ({ sha256, size: c.bytes.length, lastPutMs: c.lastPutMs }));
  }

  async listImages(): Promise<StoredImage[]> {
    return [...this.images.values()].map(({ manifest, lastPutMs }) => ({ digest: manifest.digest, chunks: [...manifest.chunks], lastPutMs }));
  }

  async deleteChunkIfPutBefore(sha256: string, putBeforeMs: number): Promise<boolean> {
    const chunk = this.chunks.get(sha256);
    return chunk !== undefined && chunk.lastPutMs < putBeforeMs && this.chunks.delete(sha256);
  }

  async deleteImageIfPutBefore(digest: string, putBeforeMs: number): Promise<boolean> {
    const image = this.images.get(digest);
    return image !== undefined && image.lastPutMs < putBeforeMs && this.images.delete(digest);
  }
}
