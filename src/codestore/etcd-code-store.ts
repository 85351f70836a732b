import { createHash } from 'node:crypto';
import type { Etcd3, Namespace } from 'etcd3';
import { StratusError } from '../shared/errors.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { createEtcdClient, etcdCall, type EtcdConnection } from '../shared/etcd.js';
import type { CodeRef, CodeStore, StoredBlob } from './code-store.js';
import { compactEtcd } from './etcd-compaction.js';

/** etcd takes requests up to 1.5 MiB by default: packages go in chunks well below that. */
const chunkBytes = 512 * 1024;
const parallelChunks = 4;

export interface EtcdCodeStoreOptions extends EtcdConnection {
  /** Keys live under `<prefix>code/`; use the journal's prefix. */
  prefix: string;
}

interface Header {
  size: number;
  chunks: number;
  /** Absent in headers written by a version without a collector: unknown (listed as undefined). */
  lastPutMs?: number;
}

const DIGEST = /^[0-9a-f]{64}$/;
const UPLOAD = /^[0-9a-f]{64}\.upload$/;
/** Headers read at once while listing. */
const parallelReads = 16;

/**
 * Code packages in etcd, so frontends and workers on several machines share them: the bytes in
 * 512 KiB chunks under `code/<sha256>/<n>`, then a small header `code/<sha256>` written last,
 * so a package is visible only once it is complete. Fine for zips up to Lambda's 50 MiB limit;
 * etcd's database (2 GiB by default) bounds the total.
 */
export class EtcdCodeStore implements CodeStore {
  private readonly client: Etcd3;
  private readonly ns: Namespace;

  constructor(options: EtcdCodeStoreOptions, private readonly clock: Clock = systemClock) {
    this.client = createEtcdClient({ ...options, callTimeoutMs: options.callTimeoutMs ?? 10_000 });
    this.ns = this.client.namespace(`${options.prefix}code/`);
  }

  async put(bytes: Buffer): Promise<CodeRef> {
    const ref = { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
    const chunks = Math.ceil(bytes.length / chunkBytes);
    const header = () => JSON.stringify({ size: bytes.length, chunks, lastPutMs: this.clock.now() } satisfies Header);
    // Stored already: only its header is written again, with the new last-put time (in one
    // transaction, so a collector's delete either comes first and the bytes are stored anew, or fails).
    const refreshed = await etcdCall('code put', () => this.ns.if(ref.sha256, 'Version', '>', 0).then(this.ns.put(ref.sha256).value(header())).commit());
    if (refreshed.succeeded) return ref;
    // An upload marker first: parts that a frontend killed mid-upload leaves without a header are
    // listed by it, with its time, so the collector removes them once past its grace period.
    await etcdCall('code put', () => this.ns.put(uploadKey(ref.sha256)).value(String(this.clock.now())).exec());
    await inBatches(chunks, (n) => etcdCall('code put', () => this.ns.put(chunkKey(ref.sha256, n)).value(bytes.subarray(n * chunkBytes, (n + 1) * chunkBytes)).exec()));
    await etcdCall('code put', () => this.ns.put(ref.sha256).value(header()).exec());
    await etcdCall('code put', () => this.ns.delete().key(uploadKey(ref.sha256)).exec());
    return ref;
  }

  async get(ref: CodeRef): Promise<Buffer> {
    const header = await this.header(ref);
    if (!header) throw new StratusError('ResourceNotFound', `Code package ${ref.sha256} is not in the code store`);
    const parts: Buffer[] = new Array<Buffer>(header.chunks);
    await inBatches(header.chunks, async (n) => {
      const part = await etcdCall('code get', () => this.ns.get(chunkKey(ref.sha256, n)).buffer());
      if (!part) throw new StratusError('ResourceNotFound', `Code package ${ref.sha256} lost chunk ${n}`);
      parts[n] = part;
    });
    const bytes = Buffer.concat(parts);
    if (createHash('sha256').update(bytes).digest('hex') !== ref.sha256) {
      throw new StratusError('Internal', `Code package ${ref.sha256} does not match its digest`);
    }
    return bytes;
  }

  async has(ref: CodeRef): Promise<boolean> {
    return (await this.header(ref))?.size === ref.size;
  }

  /** Complete packages, and uploads cut short (a marker, no header) with the time they began and size 0. */
  async list(): Promise<StoredBlob[]> {
    const keys = await etcdCall('code list', () => this.ns.getAll().keys());
    const digests = keys.filter((k) => DIGEST.test(k));
    const complete = new Set(digests);
    const found: StoredBlob[] = [];
    const unfinished = keys.filter((k) => UPLOAD.test(k) && !complete.has(k.slice(0, 64)));
    for (const key of unfinished) {
      const started = await etcdCall('code list', () => this.ns.get(key).string());
      if (started !== null) found.push({ sha256: key.slice(0, 64), size: 0, lastPutMs: Number(started) });
    }
    for (let start = 0; start < digests.length; start += parallelReads) {
      await Promise.all(digests.slice(start, start + parallelReads).map(async (sha256) => {
        const header = await this.header({ sha256, size: 0 });
        if (header) found.push({ sha256, size: header.size, lastPutMs: header.lastPutMs });
      }));
    }
    return found;
  }

  /** The header and its chunks go in one transaction, only while the header is the one read (no put since). */
  async deleteIfPutBefore(sha256: string, putBeforeMs: number): Promise<boolean> {
    checkDigest(sha256);
    const kv = (await etcdCall('code delete', () => this.ns.get(sha256).exec())).kvs[0];
    const parts = [this.ns.delete().key(sha256), this.ns.delete().prefix(`${sha256}/`), this.ns.delete().key(uploadKey(sha256))];
    if (!kv) return this.deleteUnfinished(sha256, putBeforeMs, parts);
    // No last-put time (an older version's header): the collector's first-seen-unused test decided.
    if (((JSON.parse(kv.value.toString()) as Header).lastPutMs ?? -Infinity) >= putBeforeMs) return false;
    const txn = await etcdCall('code delete', () => this.ns.if(sha256, 'Mod', '==', kv.mod_revision).then(...parts).commit());
    return txn.succeeded;
  }

  /** An upload cut short: its parts and marker go while there is still no header and the marker is the one read (no upload began since). */
  private async deleteUnfinished(sha256: string, putBeforeMs: number, parts: ReturnType<Namespace['delete']>[]): Promise<boolean> {
    const marker = (await etcdCall('code delete', () => this.ns.get(uploadKey(sha256)).exec())).kvs[0];
    if (!marker || Number(marker.value.toString()) >= putBeforeMs) return false;
    const txn = await etcdCall('code delete', () => this.ns.if(uploadKey(sha256), 'Mod', '==', marker.mod_revision).and(sha256, 'Version', '==', 0).then(...parts).commit());
    return txn.succeeded;
  }

  /** Compacts etcd's history to its current revision, so that the space of deleted keys is returned (see etcd-compaction.ts). */
  compact(): Promise<number> {
    return compactEtcd(this.client);
  }

  close(): void {
    this.client.close();
  }

  private async header(ref: CodeRef): Promise<Header | undefined> {
    checkDigest(ref.sha256);
    const value = await etcdCall('code get', () => this.ns.get(ref.sha256).string());
    return value === null ? undefined : (JSON.parse(value) as Header);
  }
}

function uploadKey(sha256: string): string {
  return `${sha256}.upload`;
}

function chunkKey(sha256: string, n: number): string {
  return `${sha256}/${String(n).padStart(6, '0')}`;
}

function checkDigest(sha256: string): void {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new StratusError('InvalidParameterValue', 'Malformed code digest');
}

/** Runs fn(0..count-1), at most `parallelChunks` at a time. */
async function inBatches(count: number, fn: (n: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += parallelChunks) {
    await Promise.all(Array.from({ length: Math.min(parallelChunks, count - start) }, (_, i) => fn(start + i)));
  }
}
