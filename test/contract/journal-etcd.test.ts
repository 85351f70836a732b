import { after, before } from 'node:test';
import { EtcdJournal } from '../../src/journal/index.js';
import { freshPrefix, startEtcdCluster, type EtcdCluster } from '../helpers/etcd.js';
import { runJournalContract } from './journal.contract.js';

let cluster: EtcdCluster | undefined;
before(async () => {
  cluster = await startEtcdCluster({ members: 3 });
});
after(async () => {
  await cluster?.stop();
});

runJournalContract('EtcdJournal', async () => {
  const prefix = freshPrefix('journal');
  const open = () => new EtcdJournal({ endpoints: cluster!.endpoints, prefix });
  return { journal: open(), second: async () => open(), cleanup: async () => {} };
});
