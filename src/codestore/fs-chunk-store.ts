import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StratusError } from '../shared/errors.js';
import { temporaryName } from './fs-leftovers.js';
import { CHUNK_NAME, IMAGE_DIGEST, type ChunkPutResult, type ChunkStore, type ImageManifest } from './chunk-store.js';

/** Chunks as files `<root>/chunks/<ab>/<sha256>`, manifests as `<root>/images/<hex>.json`; writes are atomic. */
export class FilesystemChunkStore implements ChunkStore {
  constructor(private readonly root: string) {}

  async putChunk(bytes: Buffer): Promise<ChunkPutResult> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const path = this.chunkPath(sha256);
    if (await exists(path)) return { sha256, added: false };
    await atomicWrite(path, bytes);
    return { sha256, added: true };
  }

  async getChunk(sha256: string): Promise<Buffer> {
    try {
      return await readFile(this.chunkPath(sha256));
    } catch (cause) {
      throw new StratusError('ResourceNotFound', `Image chunk ${sha256} is not in the code store`, { cause });
    }
  }

  hasChunk(sha256: string): Promise<boolean> {
    return exists(this.chunkPath(sha256));
  }

  async putImage(manifest: ImageManifest): Promise<void> {
    await atomicWrite(this.imagePath(manifest.digest), Buffer.from(JSON.stringify(manifest)));
  }

  async getImage(digest: string): Promise<ImageManifest | undefined> {
    try {
      return JSON.parse(await readFile(this.imagePath(digest), 'utf8')) as ImageManifest;
    } catch {
      return undefined;
    }
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

async function atomicWrite(path: string, bytes: Buffer): Promise<void> {
  const dir = join(path, '..');
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, temporaryName());
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }); // a full disk leaves no partial file behind
    throw err;
  }
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
