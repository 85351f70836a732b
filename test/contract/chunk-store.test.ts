import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemChunkStore, MemoryChunkStore } from '../../src/codestore/index.js';
import { runChunkStoreContract } from './chunk-store.contract.js';

runChunkStoreContract('MemoryChunkStore', async () => ({ store: new MemoryChunkStore(), cleanup: async () => {} }));
runChunkStoreContract('FilesystemChunkStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'stratus-chunks-'));
  return { store: new FilesystemChunkStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});
