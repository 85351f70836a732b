import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryChunkStore } from '../codestore/index.js';
import { ChunkCache } from './chunk-cache.js';

describe('ChunkCache (the worker tier in front of the code store)', () => {
  const dirs: string[] = [];
  after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  const setup = async (maxBytes: number) => {
    const dir = await mkdtemp(join(tmpdir(), 'stratus-chunk-cache-'));
    dirs.push(dir);
    const store = new MemoryChunkStore();
    return { dir, store, cache: new ChunkCache(dir, maxBytes, store) };
  };

  it('counts a miss (fetched from the code store) then hits', async () => {
    const { store, cache } = await setup(1024);
    const { sha256 } = await store.putChunk(Buffer.from('chunk a'));
    assert.deepEqual(await cache.get(sha256), Buffer.from('chunk a'));
    assert.deepEqual(await cache.get(sha256), Buffer.from('chunk a'));
    assert.deepEqual({ ...cache.stats() }, { localHits: 1, localMisses: 1, storeFailures: 0, evictions: 0, bytesFetched: 7, cachedChunks: 1, cachedBytes: 7 });
  });

  it('evicts the least recently used chunk beyond its size', async () => {
    const { dir, store, cache } = await setup(20);
    const a = (await store.putChunk(Buffer.alloc(8, 1))).sha256;
    const b = (await store.putChunk(Buffer.alloc(8, 2))).sha256;
    const c = (await store.putChunk(Buffer.alloc(8, 3))).sha256;
    await cache.get(a);
    await cache.get(b);
    await cache.get(a);
    await cache.get(c);
    assert.deepEqual((await readdir(dir)).sort(), [a, c].sort());
    assert.equal(cache.stats().evictions, 1);
  });

  it('a failed fetch is not cached: the next read fetches again', async () => {
    const { cache } = await setup(1024);
    const other = new MemoryChunkStore();
    const { sha256 } = await other.putChunk(Buffer.from('late'));
    await assert.rejects(cache.get(sha256), /could not be fetched from the code store/);
    assert.equal(cache.stats().storeFailures, 1);
    const late = new ChunkCache(join(dirs.at(-1) ?? '', 'x'), 1024, other);
    assert.deepEqual(await late.get(sha256), Buffer.from('late'));
  });
});
