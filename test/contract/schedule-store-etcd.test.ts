// The ScheduleStore contract on EtcdJournal over a real etcd member; "another process" is a second
// journal (its own client) on the same prefix, and a restart is a new journal on it.
import { etcdJournalsUnderTest, useEtcdCluster } from '../helpers/etcd.js';
import { runScheduleStoreContract } from './schedule-store.contract.js';

const cluster = useEtcdCluster({ members: 1 });

runScheduleStoreContract('EtcdJournal', async () => {
  const { first, ...rest } = etcdJournalsUnderTest(cluster().endpoints, 'schedules', (journal) => journal);
  return { journal: first, ...rest };
});
