import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemCodeStore, MemoryCodeStore } from '../../src/codestore/index.js';
import { runCodeStoreContract } from './code-store.contract.js';

runCodeStoreContract('MemoryCodeStore', async () => ({ store: new MemoryCodeStore(), cleanup: async () => {} }));
runCodeStoreContract('FilesystemCodeStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'stratus-code-'));
  return { store: new FilesystemCodeStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});
