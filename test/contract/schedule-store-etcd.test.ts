// The ScheduleStore contract on EtcdJournal over a real etcd member; "another process" is a second
// journal (its own client) on the same prefix, and a restart is a new journal on it.
import { EtcdJournal } from '../../src/journal/index.js';
import { freshPrefix, useEtcdCluster } from '../helpers/etcd.js';
import { runScheduleStoreContract } from './schedule-store.contract.js';

const cluster = useEtcdCluster({ members: 1 });

runScheduleStoreContract('EtcdJournal', async () => {
  const prefix = freshPrefix('schedules');
  const opened = [new EtcdJournal({ endpoints: cluster().endpoints, prefix })];
  const open = () => {
    const journal = new EtcdJournal({ endpoints: cluster().endpoints, prefix });
    opened.push(journal);
    return journal;
  };
  return {
    journal: opened[0]!,
    async reopen() {
      await opened.shift()!.close();
      return open();
    },
    second: async () => open(),
    async cleanup() {
      for (const journal of opened) await journal.close();
    },
  };
});
