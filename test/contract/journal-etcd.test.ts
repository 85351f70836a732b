import { EtcdJournal } from '../../src/journal/index.js';
import { freshPrefix, useEtcdCluster } from '../helpers/etcd.js';
import { runJournalContract } from './journal.contract.js';

const cluster = useEtcdCluster({ members: 3 });

runJournalContract('EtcdJournal', async () => {
  const prefix = freshPrefix('journal');
  const open = () => new EtcdJournal({ endpoints: cluster().endpoints, prefix });
  return { journal: open(), second: async () => open(), cleanup: async () => {} };
});
