import { createHash } from 'node:crypto';
import type { Etcd3, Namespace } from 'etcd3';
import { systemClock, type Clock } from '../shared/clock.js';
import { commitTxn, createEtcdClient, etcdCall, type EtcdConnection } from '../shared/etcd.js';
import { StratusError } from '../shared/errors.js';
import { CHUNK_NAME, IMAGE_DIGEST, type ChunkPutResult, type ChunkStore, type ImageManifest, type StoredImage } from './chunk-store.js';
import type { StoredBlob } from './code-store.js';

export interface EtcdChunkStoreOptions extends EtcdConnection {
  /** Keys live under `<prefix>chunks/`, `<prefix>images/` and their last-put times under `<prefix>chunk-puts/`, `<prefix>image-puts/`. */
  prefix: string;
}

/** What `chunk-puts/<sha256>` and `image-puts/<digest>` hold (absent for those stored by a version without a collector: listed with an unknown last-put time). */
interface PutRecord {
  size: number;
  lastPutMs: number;
}

/**
 * Image chunks and manifests in etcd, so that every frontend of a cluster can import an image
 * and every worker can fetch its chunks (through placement). One key per 512 KiB chunk; a
 * manifest is put only after all its chunks. Beside each, a small key records its size and
 * last-put time, written in the same transaction. etcd's database (2 GiB by default, raise it
 * with --quota-backend-bytes) bounds how many images fit.
 */
export class EtcdChunkStore implements ChunkStore {
  private readonly client: Etcd3;
  private readonly root: Namespace;

  constructor(options: EtcdChunkStoreOptions, private readonly clock: Clock = systemClock) {
    this.client = createEtcdClient({ ...options, callTimeoutMs: options.callTimeoutMs ?? 10_000 });
    this.root = this.client.namespace(options.prefix);
  }

  /** One transaction: a chunk already stored only gets a new put record; a new one is stored with it. */
  async putChunk(bytes: Buffer): Promise<ChunkPutResult> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const record = this.root.put(`chunk-puts/${sha256}`).value(this.record(bytes.length));
    const txn = await etcdCall('chunk put', () => this.root.if(`chunks/${sha256}`, 'Version', '==', 0)
      .then(this.root.put(`chunks/${sha256}`).value(bytes), record).else(record).commit());
    return { sha256, added: txn.succeeded };
  }

  async getChunk(sha256: string): Promise<Buffer> {
    checkName(sha256);
    const bytes = await etcdCall('chunk get', () => this.root.get(`chunks/${sha256}`).buffer());
    if (!bytes) throw new StratusError('ResourceNotFound', `chunk ${sha256} is not in the chunk store`);
    return bytes;
  }

  async hasChunk(sha256: string): Promise<boolean> {
    checkName(sha256);
    return (await etcdCall('chunk has', () => this.root.get(`chunks/${sha256}`).exec())).kvs.length > 0;
  }

  async putImage(manifest: ImageManifest): Promise<void> {
    if (!IMAGE_DIGEST.test(manifest.digest)) throw new StratusError('InvalidParameterValue', `malformed image digest ${manifest.digest}`);
    const value = JSON.stringify(manifest);
    await commitTxn('image put', this.root, [], [this.root.put(`images/${manifest.digest}`).value(value), this.root.put(`image-puts/${manifest.digest}`).value(this.record(value.length))]);
  }

  async getImage(digest: string): Promise<ImageManifest | undefined> {
    if (!IMAGE_DIGEST.test(digest)) return undefined;
    const value = await etcdCall('image get', () => this.root.get(`images/${digest}`).string());
    return value === null ? undefined : (JSON.parse(value) as ImageManifest);
  }

  async touchImage(digest: string): Promise<boolean> {
    if (!IMAGE_DIGEST.test(digest)) return false;
    const txn = await etcdCall('image touch', () => this.root.if(`images/${digest}`, 'Version', '>', 0)
      .then(this.root.put(`image-puts/${digest}`).value(this.record(0))).commit());
    return txn.succeeded;
  }

  async listChunks(): Promise<StoredBlob[]> {
    const records = await this.records('chunk-puts/');
    const names = await etcdCall('chunk list', () => this.root.getAll().prefix('chunks/').keys());
    return names.map((key) => key.slice('chunks/'.length)).map((sha256) => ({ sha256, size: records.get(sha256)?.size ?? 0, lastPutMs: records.get(sha256)?.lastPutMs }));
  }

  async listImages(): Promise<StoredImage[]> {
    const records = await this.records('image-puts/');
    const manifests = await etcdCall('image list', () => this.root.getAll().prefix('images/').strings());
    return Object.values(manifests).map((text) => JSON.parse(text) as ImageManifest)
      .map((m) => ({ digest: m.digest, chunks: m.chunks, lastPutMs: records.get(m.digest)?.lastPutMs }));
  }

  deleteChunkIfPutBefore(sha256: string, putBeforeMs: number): Promise<boolean> {
    checkName(sha256);
    return this.deleteIfPutBefore('chunk', `chunks/${sha256}`, `chunk-puts/${sha256}`, putBeforeMs);
  }

  deleteImageIfPutBefore(digest: string, putBeforeMs: number): Promise<boolean> {
    if (!IMAGE_DIGEST.test(digest)) return Promise.resolve(false);
    return this.deleteIfPutBefore('image', `images/${digest}`, `image-puts/${digest}`, putBeforeMs);
  }

  close(): void {
    this.client.close();
  }

  /** Deletes `key` and its put record in one transaction, only while the record is the one read (no put since). */
  private async deleteIfPutBefore(what: string, key: string, recordKey: string, putBeforeMs: number): Promise<boolean> {
    const kv = (await etcdCall(`${what} delete`, () => this.root.get(recordKey).exec())).kvs[0];
    if (kv && (JSON.parse(kv.value.toString()) as PutRecord).lastPutMs >= putBeforeMs) return false;
    const txn = await etcdCall(`${what} delete`, () => this.root.if(recordKey, 'Mod', '==', kv?.mod_revision ?? 0)
      .and(key, 'Version', '>', 0).then(this.root.delete().key(key), this.root.delete().key(recordKey)).commit());
    return txn.succeeded;
  }

  private async records(prefix: string): Promise<Map<string, PutRecord>> {
    const stored = await etcdCall('put records', () => this.root.getAll().prefix(prefix).strings());
    return new Map(Object.entries(stored).map(([key, text]) => [key.slice(prefix.length), JSON.parse(text) as PutRecord]));
  }

  private record(size: number): string {
    return JSON.stringify({ size, lastPutMs: this.clock.now() } satisfies PutRecord);
  }
}

function checkName(sha256: string): void {
  if (!CHUNK_NAME.test(sha256)) throw new StratusError('InvalidParameterValue', `malformed chunk name ${sha256}`);
}
