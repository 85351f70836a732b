import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { CHUNK_SIZE, EtcdChunkStore } from '../../src/codestore/index.js';
import { ManualClock } from '../../src/shared/clock.js';
import { freshPrefix, useEtcdCluster } from '../helpers/etcd.js';
import { runChunkStoreContract } from './chunk-store.contract.js';

const cluster = useEtcdCluster({ members: 1 });

runChunkStoreContract('EtcdChunkStore', async (clock) => {
  const store = new EtcdChunkStore({ endpoints: cluster().endpoints, prefix: freshPrefix('chunks') }, clock);
  return { store, cleanup: async () => store.close() };
});

it('EtcdChunkStore: a chunk or manifest without a put record (stored by an older version) is listed with an unknown last-put time, never as put long ago', async () => {
  const clock = new ManualClock();
  const prefix = freshPrefix('chunks');
  const store = new EtcdChunkStore({ endpoints: cluster().endpoints, prefix }, clock);
  const etcd = new Etcd3({ hosts: cluster().endpoints });
  try {
    const { sha256 } = await store.putChunk(Buffer.from('an older version\'s chunk'));
    const digest = `sha256:${'d'.repeat(64)}`;
    await store.putImage({ digest, size: 1, chunkSize: CHUNK_SIZE, chunks: [sha256], config: { entrypoint: [], cmd: [], env: [], workingDir: '/' } });
    await etcd.delete().key(`${prefix}chunk-puts/${sha256}`);
    await etcd.delete().key(`${prefix}image-puts/${digest}`);
    assert.deepEqual(await store.listChunks(), [{ sha256, size: 0, lastPutMs: undefined }]);
    assert.deepEqual(await store.listImages(), [{ digest, chunks: [sha256], lastPutMs: undefined }]);
  } finally {
    etcd.close();
    store.close();
  }
});
