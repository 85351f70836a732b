import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryChunkStore } from '../codestore/index.js';
import { secretHash } from '../shared/bearer.js';
import { InternalClient } from '../shared/internal-client.js';
import { createLogger } from '../shared/log.js';
import { ChunkCache } from './chunk-cache.js';
import { ZonePeers, type PeerChunkSource } from './peer-chunks.js';

const A = '111111111111';
const B = '222222222222';

describe('the peer tier of the chunk cache', () => {
  const dirs: string[] = [];
  after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  const dir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'stratus-peer-chunks-'));
    dirs.push(d);
    return d;
  };
  /** Peers that answer from `serve` (one per entry, asked in order). */
  const peersOf = (...serve: ((account: string, sha: string) => Promise<Buffer | undefined>)[]): PeerChunkSource => ({
    async fetch(account, sha, accept) {
      for (const [i, s] of serve.entries()) {
        const bytes = await s(account, sha);
        if (bytes && accept(bytes, `peer-${i}`)) return bytes;
      }
      return undefined;
    },
  });

  it('a miss is served by a zone peer that holds the chunk, before the code store', async () => {
    const store = new MemoryChunkStore();
    const { sha256 } = await store.putChunk(Buffer.from('shared chunk'));
    const holder = new ChunkCache(await dir(), 1024, store);
    await holder.get(A, sha256);
    const fetches = { n: 0 };
    const counted = { getChunk: async (s: string) => (fetches.n++, store.getChunk(s)), getImage: store.getImage.bind(store) };
    const cache = new ChunkCache(await dir(), 1024, counted, peersOf((acc, sha) => holder.held(acc, sha)));
    assert.deepEqual(await cache.get(A, sha256), Buffer.from('shared chunk'));
    assert.equal(fetches.n, 0, 'the code store was not asked');
    const s = cache.stats();
    assert.deepEqual([s.peerHits, s.peerBytes, s.storeFetches, s.storeBytes], [1, 12, 0, 0]);
    assert.deepEqual([holder.stats().servedToPeers, holder.stats().servedToPeersBytes], [1, 12]);
    // A peer serves only what it holds, for that account: B's copy is B's own, fetched from the store.
    assert.equal(await holder.held(B, sha256), undefined);
    await cache.get(B, sha256);
    assert.equal(fetches.n, 1);
  });

  it('a hostile peer cannot poison the cache: a chunk that does not match its sha256 is refused and fetched from the store', async () => {
    const store = new MemoryChunkStore();
    const { sha256 } = await store.putChunk(Buffer.from('the real chunk'));
    const d = await dir();
    const hostile = async () => Buffer.from('#!/bin/sh\necho owned');
    const cache = new ChunkCache(d, 1024, store, peersOf(hostile, hostile));
    assert.deepEqual(await cache.get(A, sha256), Buffer.from('the real chunk'));
    assert.deepEqual(await readFile(join(d, A, sha256)), Buffer.from('the real chunk'), 'what is cached is the store\'s chunk');
    const s = cache.stats();
    assert.deepEqual([s.peerRejected, s.peerHits, s.storeFetches], [2, 0, 1]);
    assert.deepEqual(await cache.get(A, sha256), Buffer.from('the real chunk'));
  });

  it('admits only the key of a peer placement listed in the zone, and forgets peers that are no longer listed', () => {
    const client = new InternalClient({ authorization: 'Bearer me', ca: '' });
    try {
      const peers = new ZonePeers('w1', client, createLogger('silent'));
      peers.update([{ id: 'w1', url: 'https://127.0.0.1:1', keyHash: secretHash('mine') }, { id: 'w2', url: 'https://127.0.0.1:2', keyHash: secretHash('k2') }]);
      assert.deepEqual(peers.list().map((p) => p.id), ['w2'], 'not itself');
      assert.equal(peers.admit('Bearer k2'), 'w2');
      assert.equal(peers.admit('Bearer k3'), undefined);
      assert.equal(peers.admit(undefined), undefined);
      assert.equal(peers.admit(`Bearer ${secretHash('k2')}`), undefined, 'the hash itself is no key');
      peers.update([]);
      assert.equal(peers.admit('Bearer k2'), undefined, 'a worker that left the zone (lost, revoked) is refused');
    } finally {
      client.close();
    }
  });
});
