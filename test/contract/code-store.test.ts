import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemCodeStore, MemoryCodeStore } from '../../src/codestore/index.js';
import { runCodeStoreContract } from './code-store.contract.js';

runCodeStoreContract('MemoryCodeStore', async (clock) => ({ store: new MemoryCodeStore(clock), cleanup: async () => {} }));
runCodeStoreContract('FilesystemCodeStore', async (clock) => {
  const dir = await mkdtemp(join(tmpdir(), 'stratus-code-'));
  return { store: new FilesystemCodeStore(dir, clock), cleanup: () => rm(dir, { recursive: true, force: true }) };
});
