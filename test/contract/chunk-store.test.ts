import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CHUNK_SIZE, FilesystemChunkStore, MemoryChunkStore } from '../../src/codestore/index.js';
import { runChunkStoreContract } from './chunk-store.contract.js';

runChunkStoreContract('MemoryChunkStore', async (clock) => ({ store: new MemoryChunkStore(clock), cleanup: async () => {} }));
runChunkStoreContract('FilesystemChunkStore', async (clock) => {
  const dir = await mkdtemp(join(tmpdir(), 'stratus-chunks-'));
  return { store: new FilesystemChunkStore(dir, clock), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe('FilesystemChunkStore: a listing that cannot be read whole rejects (only a missing file is absent)', () => {
  const withDir = (fn: (root: string, store: FilesystemChunkStore) => Promise<void>) => async () => {
    const root = await mkdtemp(join(tmpdir(), 'stratus-chunks-'));
    try {
      await fn(root, new FilesystemChunkStore(root));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  };
  const manifest = (chunks: string[]) => ({ digest: `sha256:${'a'.repeat(64)}`, size: 1, chunkSize: CHUNK_SIZE, chunks, config: { entrypoint: [], cmd: [], env: [], workingDir: '/' } });

  it('an empty store lists nothing, and an unknown manifest is undefined', withDir(async (_root, store) => {
    assert.deepEqual([await store.listImages(), await store.listChunks(), await store.getImage(`sha256:${'b'.repeat(64)}`)], [[], [], undefined]);
  }));

  it('a manifest that cannot be read (ELOOP) or parsed fails listImages and getImage instead of hiding its chunks', withDir(async (root, store) => {
    const { sha256 } = await store.putChunk(Buffer.from('a chunk'));
    await store.putImage(manifest([sha256]));
    const path = join(root, 'images', `${'a'.repeat(64)}.json`);
    await rm(path);
    await symlink(path, path); // every read of it fails with ELOOP, as an EIO would
    await assert.rejects(store.listImages(), { code: 'ELOOP' });
    await assert.rejects(store.getImage(manifest([]).digest), { code: 'ELOOP' });
    await rm(path);
    await writeFile(path, '{"digest": "sha256:aaaa');
    await assert.rejects(store.listImages(), /cannot be read/);
    await assert.rejects(store.getImage(manifest([]).digest), /cannot be read/);
  }));

  it('a directory that cannot be listed (ENOTDIR) fails listImages and listChunks', withDir(async (root, store) => {
    await writeFile(join(root, 'images'), 'not a directory');
    await assert.rejects(store.listImages(), { code: 'ENOTDIR' });
    await mkdir(join(root, 'chunks'), { recursive: true });
    await writeFile(join(root, 'chunks', 'ab'), 'not a directory');
    await assert.rejects(store.listChunks(), { code: 'ENOTDIR' });
  }));
});
