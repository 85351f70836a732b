import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { CHUNK_NAME, IMAGE_DIGEST, type ChunkPutResult, type ChunkStore, type ImageManifest, type StoredImage } from './chunk-store.js';
import type { StoredBlob } from './code-store.js';
import { absentAs, atomicWrite, filesIn, removeIfModifiedBefore, touch } from './fs-files.js';
import { KeyLock } from './key-lock.js';

/**
 * Chunks as files `<root>/chunks/<ab>/<sha256>`, manifests as `<root>/images/<hex>.json`; writes
 * are atomic, and a file's mtime is its last-put time (set from the Clock).
 */
export class FilesystemChunkStore implements ChunkStore {
  private readonly lock = new KeyLock();

  constructor(private readonly root: string, private readonly clock: Clock = systemClock) {}

  async putChunk(bytes: Buffer): Promise<ChunkPutResult> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const path = this.chunkPath(sha256);
    return this.lock.run(sha256, async () => {
      if (await touch(path, this.clock.now())) return { sha256, added: false };
      await atomicWrite(path, bytes, this.clock.now());
      return { sha256, added: true };
    });
  }

  async getChunk(sha256: string): Promise<Buffer> {
    try {
      return await readFile(this.chunkPath(sha256));
    } catch (cause) {
      throw new StratusError('ResourceNotFound', `Image chunk ${sha256} is not in the code store`, { cause });
    }
  }

  async hasChunk(sha256: string): Promise<boolean> {
    return stat(this.chunkPath(sha256)).then(() => true, () => false);
  }

  async putImage(manifest: ImageManifest): Promise<void> {
    const path = this.imagePath(manifest.digest);
    await this.lock.run(manifest.digest, () => atomicWrite(path, Buffer.from(JSON.stringify(manifest)), this.clock.now()));
  }

  /** Undefined only if there is no such file; a failed read (EIO, EMFILE, a damaged file) rejects. */
  async getImage(digest: string): Promise<ImageManifest | undefined> {
    const path = this.imagePath(digest);
    const text = await readFile(path, 'utf8').catch(absentAs(undefined));
    return text === undefined ? undefined : parseManifest(text, path);
  }

  touchImage(digest: string): Promise<boolean> {
    const path = this.imagePath(digest);
    return this.lock.run(digest, () => touch(path, this.clock.now()));
  }

  async listChunks(): Promise<StoredBlob[]> {
    const dir = join(this.root, 'chunks');
    const found: StoredBlob[] = [];
    for (const sub of await readdir(dir).catch(absentAs([] as string[]))) {
      if (!/^[0-9a-f]{2}$/.test(sub)) continue;
      for (const f of await filesIn(join(dir, sub), CHUNK_NAME)) found.push({ sha256: f.name, size: f.size, lastPutMs: f.mtimeMs });
    }
    return found;
  }

  async listImages(): Promise<StoredImage[]> {
    const found: StoredImage[] = [];
    for (const f of await filesIn(join(this.root, 'images'), /^[0-9a-f]{64}\.json$/)) {
      // Removed since the listing: absent. Any other failure rejects (its chunks must not look unused).
      const text = await readFile(f.path, 'utf8').catch(absentAs(undefined));
      if (text === undefined) continue;
      const manifest = parseManifest(text, f.path);
      found.push({ digest: manifest.digest, chunks: manifest.chunks, lastPutMs: f.mtimeMs });
    }
    return found;
  }

  deleteChunkIfPutBefore(sha256: string, putBeforeMs: number): Promise<boolean> {
    const path = this.chunkPath(sha256);
    return this.lock.run(sha256, () => removeIfModifiedBefore(path, putBeforeMs));
  }

  deleteImageIfPutBefore(digest: string, putBeforeMs: number): Promise<boolean> {
    const path = this.imagePath(digest);
    return this.lock.run(digest, () => removeIfModifiedBefore(path, putBeforeMs));
  }

  private chunkPath(sha256: string): string {
    if (!CHUNK_NAME.test(sha256)) throw new StratusError('InvalidParameterValue', 'Malformed chunk digest');
    return join(this.root, 'chunks', sha256.slice(0, 2), sha256);
  }

  private imagePath(digest: string): string {
    if (!IMAGE_DIGEST.test(digest)) throw new StratusError('InvalidParameterValue', 'Malformed image digest');
    return join(this.root, 'images', `${digest.slice(7)}.json`);
  }
}

function parseManifest(text: string, path: string): ImageManifest {
  try {
    const manifest = JSON.parse(text) as ImageManifest;
    if (typeof manifest.digest === 'string' && Array.isArray(manifest.chunks)) return manifest;
  } catch {
    // reported below
  }
  throw new StratusError('Internal', `image manifest ${path} cannot be read`);
}
