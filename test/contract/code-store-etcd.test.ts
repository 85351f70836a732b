import { after, before } from 'node:test';
import { EtcdCodeStore } from '../../src/codestore/index.js';
import { freshPrefix, startEtcdCluster, type EtcdCluster } from '../helpers/etcd.js';
import { runCodeStoreContract } from './code-store.contract.js';

let cluster: EtcdCluster | undefined;
before(async () => {
  cluster = await startEtcdCluster({ members: 3 });
});
after(async () => {
  await cluster?.stop();
});

runCodeStoreContract('EtcdCodeStore', async () => {
  const store = new EtcdCodeStore({ endpoints: cluster!.endpoints, prefix: freshPrefix('code') });
  return { store, cleanup: async () => store.close() };
});
