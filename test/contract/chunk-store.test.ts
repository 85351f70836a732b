import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemChunkStore, MemoryChunkStore } from '../../src/codestore/index.js';
import { runChunkStoreContract } from './chunk-store.contract.js';

runChunkStoreContract('MemoryChunkStore', async (clock) => ({ store: new MemoryChunkStore(clock), cleanup: async () => {} }));
runChunkStoreContract('FilesystemChunkStore', async (clock) => {
  const dir = await mkdtemp(join(tmpdir(), 'stratus-chunks-'));
  return { store: new FilesystemChunkStore(dir, clock), cleanup: () => rm(dir, { recursive: true, force: true }) };
});
