// The LogStore contract on EtcdJournal over a real etcd member; "another process" is a second
// journal (its own client) on the same prefix, and a restart is a new journal on it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EtcdJournal } from '../../src/journal/index.js';
import { createEtcdClient } from '../../src/shared/etcd.js';
import { etcdJournalsUnderTest, freshPrefix, useEtcdCluster } from '../helpers/etcd.js';
import { runLogStoreContract } from './log-store.contract.js';

const cluster = useEtcdCluster({ members: 1 });

runLogStoreContract('EtcdJournal', async () => {
  const { first, ...rest } = etcdJournalsUnderTest(cluster().endpoints, 'logs', (journal) => journal.logs);
  return { logs: first, ...rest };
});

describe('EtcdLogStore keys', () => {
  it('splits a large append into batch keys far below etcd request limit, readable as one', async () => {
    const prefix = freshPrefix('logs');
    const journal = new EtcdJournal({ endpoints: cluster().endpoints, prefix });
    const client = createEtcdClient({ endpoints: cluster().endpoints });
    try {
      const events = Array.from({ length: 40 }, (_, i) => ({ timestamp: 1000 + i, message: `${i}`.padEnd(100_000, '\n') }));
      await journal.logs.append('111111111111', '/aws/lambda/big', 's', events, 1);
      const batches = client.namespace(`${prefix}logs/e/`);
      const sizes = await Promise.all((await batches.getAll().keys()).map(async (k) => (await batches.get(k).buffer())!.length));
      assert.ok(sizes.length >= 4, `${sizes.length} batch keys`);
      assert.ok(sizes.every((n) => n <= 600 * 1024), `batch values ${sizes.join(', ')}`);
      const back = await journal.logs.events('111111111111', '/aws/lambda/big', { limit: 100 });
      assert.deepEqual(back?.map((e) => e.message), events.map((e) => e.message));
      const ids = back!.map((e) => e.id);
      assert.deepEqual([...ids].sort(), ids, 'ids grow across the batches of one append');
    } finally {
      client.close();
      await journal.close();
    }
  });
});
