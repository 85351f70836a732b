import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryChunkStore, type CodeRef } from '../codestore/index.js';
import { StratusError } from '../shared/errors.js';
import { ManualClock } from '../shared/clock.js';
import { makeZip } from '../../test/helpers/zip.js';
import { CacheLeases, Leases } from './cache-leases.js';
import { LayerMounts } from './layer-mounts.js';

const ACCOUNT = '111122223333';

test('a set whose merge fails holds none of its layers: they are idle, and go after the idle time', { skip: process.getuid?.() !== 0 && 'needs root to mount' }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'stratus-layer-mounts-'));
  const clock = new ManualClock();
  const caches = new CacheLeases(clock, { idleMs: 60_000, maxBytes: 1 << 30 });
  const zip = await makeZip({ 'lib/a.js': 'module.exports = 1;\n' });
  const good: CodeRef = { sha256: createHash('sha256').update(zip).digest('hex'), size: zip.length };
  const missing: CodeRef = { sha256: 'f'.repeat(64), size: 10 };
  const chunks = new MemoryChunkStore();
  const source = {
    get: async (ref: CodeRef) => {
      if (ref.sha256 === good.sha256) return zip;
      throw new StratusError('ResourceNotFound', 'no such package');
    },
    getChunk: (sha256: string) => chunks.getChunk(sha256),
    getImage: (digest: string) => chunks.getImage(digest),
  };
  const mounts = new LayerMounts(root, source, { maxUnzippedBytes: 1 << 20, mkfsErofsPath: '/usr/bin/mkfs.erofs' }, caches);
  try {
    const leases = new Leases();
    await assert.rejects(mounts.resolve(ACCOUNT, [good, missing], leases), /no such package/);
    // The good layer's build may still be under way when the missing one fails the merge.
    await mounts.resolve(ACCOUNT, [good], leases);
    leases.releaseAll();
    const layers = caches.stats().get('layers');
    assert.ok((layers?.bytes ?? 0) > 0, 'the layer that was built stays cached');
    assert.equal(layers?.inUse, 0, 'but nothing holds it: the failed set let it go');
    clock.advance(60_000);
    const left = () => [...caches.stats().values()].reduce((n, s) => n + s.entries, 0);
    for (let i = 0; i < 100 && left() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(left(), 0, 'every entry removed once idle');
  } finally {
    caches.close();
    await mounts.shutdown();
    await rm(root, { recursive: true, force: true });
  }
});
