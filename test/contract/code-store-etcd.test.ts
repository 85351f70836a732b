import { EtcdCodeStore } from '../../src/codestore/index.js';
import { freshPrefix, useEtcdCluster } from '../helpers/etcd.js';
import { runCodeStoreContract } from './code-store.contract.js';

const cluster = useEtcdCluster({ members: 3 });

runCodeStoreContract('EtcdCodeStore', async (clock) => {
  const store = new EtcdCodeStore({ endpoints: cluster().endpoints, prefix: freshPrefix('code') }, clock);
  return { store, cleanup: async () => store.close() };
});
