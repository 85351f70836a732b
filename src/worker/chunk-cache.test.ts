import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryChunkStore } from '../codestore/index.js';
import { ChunkCache } from './chunk-cache.js';

const A = '111111111111';
const B = '222222222222';

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
    assert.deepEqual(await cache.get(A, sha256), Buffer.from('chunk a'));
    assert.deepEqual(await cache.get(A, sha256), Buffer.from('chunk a'));
    assert.deepEqual({ ...cache.stats() }, {
      localHits: 1, localMisses: 1, peerHits: 0, peerRejected: 0, storeFetches: 1, peerBytes: 0, storeBytes: 7, servedToPeers: 0, servedToPeersBytes: 0,
      storeFailures: 0, evictions: 0, evictedBytes: 0, bytesFetched: 7, cachedChunks: 1, cachedBytes: 7,
    });
  });

  it('evicts the least recently used chunk beyond its size', async () => {
    const { dir, store, cache } = await setup(20);
    const a = (await store.putChunk(Buffer.alloc(8, 1))).sha256;
    const b = (await store.putChunk(Buffer.alloc(8, 2))).sha256;
    const c = (await store.putChunk(Buffer.alloc(8, 3))).sha256;
    await cache.get(A, a);
    await cache.get(A, b);
    await cache.get(A, a);
    await cache.get(A, c);
    assert.deepEqual((await readdir(join(dir, A))).sort(), [a, c].sort());
    assert.equal(cache.stats().evictions, 1);
  });

  it('a failed fetch is not cached: the next read fetches again', async () => {
    const { cache } = await setup(1024);
    const other = new MemoryChunkStore();
    const { sha256 } = await other.putChunk(Buffer.from('late'));
    await assert.rejects(cache.get(A, sha256), /could not be fetched from the code store/);
    assert.equal(cache.stats().storeFailures, 1);
    const late = new ChunkCache(join(dirs.at(-1) ?? '', 'x'), 1024, other);
    assert.deepEqual(await late.get(A, sha256), Buffer.from('late'));
  });

  it('keeps for each account its own copy of a chunk: a read of another account is a miss, fetched and checked again', async () => {
    const { dir, store, cache } = await setup(1024);
    const { sha256 } = await store.putChunk(Buffer.from('shared base layer'));
    await cache.get(A, sha256);
    await cache.get(A, sha256);
    assert.deepEqual(await cache.get(B, sha256), Buffer.from('shared base layer'));
    assert.deepEqual({ hits: cache.stats().localHits, misses: cache.stats().localMisses, chunks: cache.stats().cachedChunks }, { hits: 1, misses: 2, chunks: 2 });
    assert.deepEqual((await readdir(dir)).sort(), [A, B]);
    assert.deepEqual(await readdir(join(dir, B)), [sha256]);
    await assert.rejects(cache.get('../../etc', sha256), /malformed account id/);
  });

  it('picks up what a previous run cached per account, and drops chunks of the older, shared layout', async () => {
    const { dir, store, cache } = await setup(1024);
    const { sha256 } = await store.putChunk(Buffer.from('kept'));
    await cache.get(A, sha256);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, sha256), 'kept');
    const again = new ChunkCache(dir, 1024, store);
    assert.deepEqual(await again.get(A, sha256), Buffer.from('kept'));
    assert.equal(again.stats().localHits, 1);
    assert.deepEqual((await readdir(dir)).sort(), [A]);
  });
});
