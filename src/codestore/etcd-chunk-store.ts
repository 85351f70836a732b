import { createHash } from 'node:crypto';
import type { Etcd3, Namespace } from 'etcd3';
import { createEtcdClient, etcdCall, type EtcdConnection } from '../shared/etcd.js';
import { StratusError } from '../shared/errors.js';
import { CHUNK_NAME, IMAGE_DIGEST, type ChunkPutResult, type ChunkStore, type ImageManifest } from './chunk-store.js';

export interface EtcdChunkStoreOptions extends EtcdConnection {
  /** Keys live under `<prefix>chunks/` and `<prefix>images/`; use the journal's prefix. */
  prefix: string;
}

/**
 * Image chunks and manifests in etcd, so that every frontend of a cluster can import an image
 * and every worker can fetch its chunks (through placement). One key per 512 KiB chunk; a
 * manifest is put only after all its chunks. etcd's database (2 GiB by default, raise it with
 * --quota-backend-bytes) bounds how many images fit.
 */
export class EtcdChunkStore implements ChunkStore {
  private readonly client: Etcd3;
  private readonly chunks: Namespace;
  private readonly images: Namespace;

  constructor(options: EtcdChunkStoreOptions) {
    this.client = createEtcdClient({ ...options, callTimeoutMs: options.callTimeoutMs ?? 10_000 });
    this.chunks = this.client.namespace(`${options.prefix}chunks/`);
    this.images = this.client.namespace(`${options.prefix}images/`);
  }

  async putChunk(bytes: Buffer): Promise<ChunkPutResult> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (await this.hasChunk(sha256)) return { sha256, added: false };
    await etcdCall('chunk put', () => this.chunks.put(sha256).value(bytes).exec());
    return { sha256, added: true };
  }

  async getChunk(sha256: string): Promise<Buffer> {
    checkName(sha256);
    const bytes = await etcdCall('chunk get', () => this.chunks.get(sha256).buffer());
    if (!bytes) throw new StratusError('ResourceNotFound', `chunk ${sha256} is not in the chunk store`);
    return bytes;
  }

  async hasChunk(sha256: string): Promise<boolean> {
    checkName(sha256);
    return (await etcdCall('chunk has', () => this.chunks.get(sha256).exec())).kvs.length > 0;
  }

  async putImage(manifest: ImageManifest): Promise<void> {
    if (!IMAGE_DIGEST.test(manifest.digest)) throw new StratusError('InvalidParameterValue', `malformed image digest ${manifest.digest}`);
    await etcdCall('image put', () => this.images.put(manifest.digest).value(JSON.stringify(manifest)).exec());
  }

  async getImage(digest: string): Promise<ImageManifest | undefined> {
    if (!IMAGE_DIGEST.test(digest)) return undefined;
    const value = await etcdCall('image get', () => this.images.get(digest).string());
    return value === null ? undefined : (JSON.parse(value) as ImageManifest);
  }

  close(): void {
    this.client.close();
  }
}

function checkName(sha256: string): void {
  if (!CHUNK_NAME.test(sha256)) throw new StratusError('InvalidParameterValue', `malformed chunk name ${sha256}`);
}
