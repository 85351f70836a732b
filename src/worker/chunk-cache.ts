import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ChunkStore } from '../codestore/index.js';
import { StratusError } from '../shared/errors.js';
import { checkedAccountId, isAccountDir } from './account-dirs.js';
import type { PeerChunkSource } from './peer-chunks.js';

/** Where a worker fetches image chunks and manifests from: the code store, or the control plane. */
export type ChunkSource = Pick<ChunkStore, 'getChunk' | 'getImage'>;

/** Hit and miss counts per tier, as the worker reports them. */
export interface ChunkCacheStats {
  /** Chunk reads served from the worker's local cache. */
  localHits: number;
  /** Chunk reads the local cache did not have: fetched from a zone peer, else the code store. */
  localMisses: number;
  /** Misses a zone peer served (a chunk that matched its sha256). */
  peerHits: number;
  /** Chunks a peer sent that did not match their sha256: refused, and fetched elsewhere. */
  peerRejected: number;
  /** Misses fetched from the code store. */
  storeFetches: number;
  /** Bytes of the chunks fetched from peers, and from the code store. */
  peerBytes: number;
  storeBytes: number;
  /** Chunks (and their bytes) this worker served to its zone peers. */
  servedToPeers: number;
  servedToPeersBytes: number;
  /** Fetches from the code store that failed (the chunk stays uncached and is fetched again next time). */
  storeFailures: number;
  evictions: number;
  /** Bytes of the chunks evicted. */
  evictedBytes: number;
  /** Bytes fetched from either tier. */
  bytesFetched: number;
  cachedChunks: number;
  cachedBytes: number;
}

/**
 * The worker's local chunk cache: image chunks as files under `dir/<accountId>/<sha256>`, bounded
 * in bytes (all accounts together), evicting the least recently used. A miss fetches from the
 * next tiers (the zone's peers, when there are, then the code store) and checks the chunk's sha256
 * before keeping it: a peer cannot put a chunk here that is not the one asked for. Images of one account share their
 * chunks; another account's copy of the same chunk is a chunk of its own (fetched and cached
 * again), so how fast a chunk reads never tells a function what other accounts run here.
 */
export class ChunkCache {
  /** `<accountId>/<sha256>` -> size; Map order is recency (oldest first). */
  private readonly lru = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<Buffer>>();
  private bytes = 0;
  private ready: Promise<void> | undefined;
  readonly counters: Omit<ChunkCacheStats, 'cachedChunks' | 'cachedBytes'> = {
    localHits: 0, localMisses: 0, peerHits: 0, peerRejected: 0, storeFetches: 0, peerBytes: 0, storeBytes: 0, servedToPeers: 0, servedToPeersBytes: 0,
    storeFailures: 0, evictions: 0, evictedBytes: 0, bytesFetched: 0,
  };

  constructor(private readonly dir: string, private readonly maxBytes: number, private readonly source: ChunkSource, private readonly peers?: PeerChunkSource) {}

  stats(): ChunkCacheStats {
    return { ...this.counters, cachedChunks: this.lru.size, cachedBytes: this.bytes };
  }

  /** A chunk of one of `accountId`'s images. */
  async get(accountId: string, sha256: string): Promise<Buffer> {
    await (this.ready ??= this.index());
    const key = `${checkedAccountId(accountId)}/${sha256}`;
    const size = this.lru.get(key);
    if (size !== undefined) {
      const cached = await readFile(join(this.dir, key)).catch(() => undefined);
      if (cached) {
        this.lru.delete(key);
        this.lru.set(key, size);
        this.counters.localHits++;
        return cached;
      }
      this.forget(key);
    }
    let fetching = this.inflight.get(key);
    if (!fetching) {
      fetching = this.fetch(key, sha256).finally(() => this.inflight.delete(key));
      this.inflight.set(key, fetching);
    } else {
      this.counters.localHits++;
    }
    return fetching;
  }

  /**
   * A chunk this worker holds for `accountId`, for a zone peer (undefined if not held: a peer is
   * never sent on to the code store from here).
   */
  async held(accountId: string, sha256: string): Promise<Buffer | undefined> {
    await (this.ready ??= this.index());
    const key = `${checkedAccountId(accountId)}/${sha256}`;
    if (!this.lru.has(key)) return undefined;
    const bytes = await readFile(join(this.dir, key)).catch(() => undefined);
    if (bytes) {
      this.counters.servedToPeers++;
      this.counters.servedToPeersBytes += bytes.length;
    }
    return bytes;
  }

  private async fetch(key: string, sha256: string): Promise<Buffer> {
    this.counters.localMisses++;
    const matches = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex') === sha256;
    let bytes = await this.peers?.fetch(key.slice(0, key.indexOf('/')), sha256, (b) => matches(b) || (this.counters.peerRejected++, false));
    if (bytes) {
      this.counters.peerHits++;
      this.counters.peerBytes += bytes.length;
    } else {
      try {
        bytes = await this.source.getChunk(sha256);
        if (!matches(bytes)) throw new Error('the chunk does not match its sha256');
      } catch (cause) {
        this.counters.storeFailures++;
        throw new StratusError('Internal', `Image chunk ${sha256} could not be fetched from the code store: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      }
      this.counters.storeFetches++;
      this.counters.storeBytes += bytes.length;
    }
    this.counters.bytesFetched += bytes.length;
    const tmp = join(this.dir, `.tmp-${randomUUID()}`);
    await writeFile(tmp, bytes);
    await mkdir(dirname(join(this.dir, key)), { recursive: true });
    await rename(tmp, join(this.dir, key));
    this.lru.set(key, bytes.length);
    this.bytes += bytes.length;
    await this.evict();
    return bytes;
  }

  private async evict(): Promise<void> {
    for (const [oldest, size] of this.lru) {
      if (this.bytes <= this.maxBytes || this.lru.size <= 1) return;
      this.forget(oldest);
      this.counters.evictions++;
      this.counters.evictedBytes += size;
      await rm(join(this.dir, oldest), { force: true });
    }
  }

  private forget(key: string): void {
    const size = this.lru.get(key);
    if (size === undefined) return;
    this.lru.delete(key);
    this.bytes -= size;
  }

  /**
   * Picks up chunks a previous run left, oldest first by modification time; drops half-written
   * ones and chunks of an older layout (not kept per account).
   */
  private async index(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const found: { name: string; size: number; mtimeMs: number }[] = [];
    for (const account of await readdir(this.dir)) {
      if (!isAccountDir(account)) {
        await rm(join(this.dir, account), { recursive: true, force: true });
        continue;
      }
      for (const chunk of await readdir(join(this.dir, account)).catch(() => [] as string[])) {
        const name = `${account}/${chunk}`;
        const st = await stat(join(this.dir, name)).catch(() => undefined);
        if (st?.isFile()) found.push({ name, size: st.size, mtimeMs: st.mtimeMs });
      }
    }
    for (const f of found.sort((a, b) => a.mtimeMs - b.mtimeMs)) {
      this.lru.set(f.name, f.size);
      this.bytes += f.size;
    }
    await this.evict();
  }
}
