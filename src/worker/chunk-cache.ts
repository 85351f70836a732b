import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChunkStore } from '../codestore/index.js';
import { StratusError } from '../shared/errors.js';

/** Where a worker fetches image chunks and manifests from: the code store, or the control plane. */
export type ChunkSource = Pick<ChunkStore, 'getChunk' | 'getImage'>;

/** Hit and miss counts per tier, as the worker reports them. */
export interface ChunkCacheStats {
  /** Chunk reads served from the worker's local cache. */
  localHits: number;
  /** Chunk reads the local cache did not have: fetched from the code store (the next tier). */
  localMisses: number;
  /** Fetches from the code store that failed (the chunk stays uncached and is fetched again next time). */
  storeFailures: number;
  evictions: number;
  bytesFetched: number;
  cachedChunks: number;
  cachedBytes: number;
}

/**
 * The worker's local chunk cache: image chunks as files under `dir`, bounded in bytes, evicting
 * the least recently used. A miss fetches from the next tier and checks the chunk's sha256
 * before keeping it. Shared by every image on the worker, so chunks images share are cached once.
 */
export class ChunkCache {
  /** sha256 -> size; Map order is recency (oldest first). */
  private readonly lru = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<Buffer>>();
  private bytes = 0;
  private ready: Promise<void> | undefined;
  readonly counters: Omit<ChunkCacheStats, 'cachedChunks' | 'cachedBytes'> = { localHits: 0, localMisses: 0, storeFailures: 0, evictions: 0, bytesFetched: 0 };

  constructor(private readonly dir: string, private readonly maxBytes: number, private readonly source: ChunkSource) {}

  stats(): ChunkCacheStats {
    return { ...this.counters, cachedChunks: this.lru.size, cachedBytes: this.bytes };
  }

  async get(sha256: string): Promise<Buffer> {
    await (this.ready ??= this.index());
    const size = this.lru.get(sha256);
    if (size !== undefined) {
      const cached = await readFile(join(this.dir, sha256)).catch(() => undefined);
      if (cached) {
        this.lru.delete(sha256);
        this.lru.set(sha256, size);
        this.counters.localHits++;
        return cached;
      }
      this.forget(sha256);
    }
    let fetching = this.inflight.get(sha256);
    if (!fetching) {
      fetching = this.fetch(sha256).finally(() => this.inflight.delete(sha256));
      this.inflight.set(sha256, fetching);
    } else {
      this.counters.localHits++;
    }
    return fetching;
  }

  private async fetch(sha256: string): Promise<Buffer> {
    this.counters.localMisses++;
    let bytes: Buffer;
    try {
      bytes = await this.source.getChunk(sha256);
      if (createHash('sha256').update(bytes).digest('hex') !== sha256) throw new Error('the chunk does not match its sha256');
    } catch (cause) {
      this.counters.storeFailures++;
      throw new StratusError('Internal', `Image chunk ${sha256} could not be fetched from the code store: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    this.counters.bytesFetched += bytes.length;
    const tmp = join(this.dir, `.tmp-${randomUUID()}`);
    await writeFile(tmp, bytes);
    await rename(tmp, join(this.dir, sha256));
    this.lru.set(sha256, bytes.length);
    this.bytes += bytes.length;
    await this.evict();
    return bytes;
  }

  private async evict(): Promise<void> {
    for (const [oldest, size] of this.lru) {
      if (this.bytes <= this.maxBytes || this.lru.size <= 1) return;
      this.forget(oldest);
      this.counters.evictions++;
      await rm(join(this.dir, oldest), { force: true });
      void size;
    }
  }

  private forget(sha256: string): void {
    const size = this.lru.get(sha256);
    if (size === undefined) return;
    this.lru.delete(sha256);
    this.bytes -= size;
  }

  /** Picks up chunks a previous run left, oldest first by modification time. */
  private async index(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const found: { name: string; size: number; mtimeMs: number }[] = [];
    for (const name of await readdir(this.dir)) {
      if (name.startsWith('.tmp-')) {
        await rm(join(this.dir, name), { force: true });
        continue;
      }
      const st = await stat(join(this.dir, name)).catch(() => undefined);
      if (st?.isFile()) found.push({ name, size: st.size, mtimeMs: st.mtimeMs });
    }
    for (const f of found.sort((a, b) => a.mtimeMs - b.mtimeMs)) {
      this.lru.set(f.name, f.size);
      this.bytes += f.size;
    }
    await this.evict();
  }
}
