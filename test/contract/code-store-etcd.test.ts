import { EtcdCodeStore } from '../../src/codestore/index.js';
import { freshPrefix, useEtcdCluster } from '../helpers/etcd.js';
import { runCodeStoreContract } from './code-store.contract.js';

const cluster = useEtcdCluster({ members: 3 });

runCodeStoreContract('EtcdCodeStore', async () => {
  const store = new EtcdCodeStore({ endpoints: cluster().endpoints, prefix: freshPrefix('code') });
  return { store, cleanup: async () => store.close() };
});
