import { EtcdChunkStore } from '../../src/codestore/index.js';
import { freshPrefix, useEtcdCluster } from '../helpers/etcd.js';
import { runChunkStoreContract } from './chunk-store.contract.js';

const cluster = useEtcdCluster({ members: 1 });

runChunkStoreContract('EtcdChunkStore', async (clock) => {
  const store = new EtcdChunkStore({ endpoints: cluster().endpoints, prefix: freshPrefix('chunks') }, clock);
  return { store, cleanup: async () => store.close() };
});
