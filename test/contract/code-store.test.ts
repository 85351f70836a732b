import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { FilesystemCodeStore, MemoryCodeStore } from '../../src/codestore/index.js';
import { runCodeStoreContract } from './code-store.contract.js';

runCodeStoreContract('MemoryCodeStore', async (clock) => ({ store: new MemoryCodeStore(clock), cleanup: async () => {} }));
runCodeStoreContract('FilesystemCodeStore', async (clock) => {
  const dir = await mkdtemp(join(tmpdir(), 'stratus-code-'));
  return { store: new FilesystemCodeStore(dir, clock), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

it('FilesystemCodeStore: a listing that cannot be read whole rejects (a missing directory is empty)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'stratus-code-'));
  try {
    const store = new FilesystemCodeStore(root);
    assert.deepEqual(await store.list(), []);
    const blob = join(root, 'sha256', 'c'.repeat(64));
    await mkdir(join(root, 'sha256'));
    await symlink(blob, blob); // its stat fails with ELOOP, as an EIO would
    await assert.rejects(store.list(), { code: 'ELOOP' });
    await rm(join(root, 'sha256'), { recursive: true });
    await writeFile(join(root, 'sha256'), 'not a directory');
    await assert.rejects(store.list(), { code: 'ENOTDIR' });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
