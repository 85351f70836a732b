// A chunked SnapStart snapshot reaches a worker through its chunk cache and is unpacked only if
// its bytes are the snapshot the spec names: a tampered chunk in the store, or a tampered chunk
// in the worker's local cache, is refused (the cold start then boots instead).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MemoryChunkStore, putChunkedBlob, type CodeRef } from '../codestore/index.js';
import { ManualClock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { CacheLeases, Leases } from './cache-leases.js';
import { ChunkCache } from './chunk-cache.js';
import { packSnapshot, SnapshotCache, writeSnapshotOwner } from './snapshots.js';

const OWNER = { accountId: '111122223333', functionName: 'snap' };

describe('chunked snapshots', () => {
  let root: string;
  let store: MemoryChunkStore;
  let image: CodeRef;
  let memory: Buffer;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'stratus-snapshots-'));
    const dump = join(root, 'dump');
    await mkdir(join(dump, 'img'), { recursive: true });
    memory = randomBytes(1536 * 1024);
    await writeFile(join(dump, 'img', 'pages.img'), memory);
    await writeSnapshotOwner(dump, OWNER);
    const { tar } = await packSnapshot(dump);
    store = new MemoryChunkStore();
    image = await putChunkedBlob(store, tar);
  });
  after(() => rm(root, { recursive: true, force: true }));

  const cacheOn = (name: string, getChunk: (sha: string) => Promise<Buffer>, chunks = new ChunkCache(join(root, name, 'chunks'), 1 << 30, { getChunk, getImage: (d) => store.getImage(d) })) => {
    const source = { get: () => Promise.reject(new StratusError('ResourceNotFound', 'not a code blob')), getChunk, getImage: (d: string) => store.getImage(d) };
    return { chunks, snapshots: new SnapshotCache(join(root, name, 'snapshots'), source, new CacheLeases(new ManualClock(), { idleMs: 60_000, maxBytes: 1 << 30 }), chunks) };
  };

  test('is fetched chunk by chunk through the chunk cache and unpacked', async () => {
    const { chunks, snapshots } = cacheOn('plain', (sha) => store.getChunk(sha));
    const dir = await snapshots.resolve(OWNER, image, new Leases());
    assert.deepEqual(await readFile(join(dir, 'img', 'pages.img')), memory);
    const manifest = await store.getImage(`sha256:${image.sha256}`);
    assert.ok(manifest && manifest.chunks.length >= 3);
    assert.equal(chunks.stats().localMisses, new Set(manifest.chunks).size, 'every chunk came from the store once');
  });

  test('a chunk the store hands out tampered is refused, and nothing is unpacked', async () => {
    const manifest = await store.getImage(`sha256:${image.sha256}`);
    const victim = manifest?.chunks[1] ?? '';
    const evil = async (sha: string) => {
      const bytes = await store.getChunk(sha);
      return sha === victim ? Buffer.concat([bytes.subarray(0, 100), Buffer.from('evil'), bytes.subarray(104)]) : bytes;
    };
    const { snapshots } = cacheOn('store-tampered', evil);
    await assert.rejects(snapshots.resolve(OWNER, image, new Leases()), /does not match its sha256/);
    assert.deepEqual(await readdir(join(root, 'store-tampered', 'snapshots', OWNER.accountId)).catch(() => []), []);
  });

  test("a chunk tampered in the worker's local cache is refused by the snapshot's digest", async () => {
    const first = cacheOn('local-tampered', (sha) => store.getChunk(sha));
    await first.snapshots.resolve(OWNER, image, new Leases());
    const manifest = await store.getImage(`sha256:${image.sha256}`);
    const cached = join(root, 'local-tampered', 'chunks', OWNER.accountId, manifest?.chunks[0] ?? '');
    const bytes = await readFile(cached);
    bytes[200] = (bytes[200] ?? 0) ^ 0xff;
    await writeFile(cached, bytes);
    // Another snapshot cache on the same chunk cache (as after the unpacked copy was evicted).
    const again = cacheOn('local-tampered-2', (sha) => store.getChunk(sha), first.chunks);
    await assert.rejects(again.snapshots.resolve(OWNER, image, new Leases()), (err: unknown) => err instanceof StratusError && err.code === 'SnapshotFailed' && /does not match its digest/.test(err.message));
    assert.deepEqual(await readdir(join(root, 'local-tampered-2', 'snapshots', OWNER.accountId)).catch(() => []), []);
  });
});
