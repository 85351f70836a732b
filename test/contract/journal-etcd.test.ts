import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EtcdJournal } from '../../src/journal/index.js';
import { freshPrefix, useEtcdCluster } from '../helpers/etcd.js';
import { runJournalContract } from './journal.contract.js';

const cluster = useEtcdCluster({ members: 3 });

runJournalContract('EtcdJournal', async () => {
  const prefix = freshPrefix('journal');
  const open = () => new EtcdJournal({ endpoints: cluster().endpoints, prefix });
  return { journal: open(), second: async () => open(), cleanup: async () => {} };
});

describe('EtcdJournal documents: a write retried after its first attempt committed', () => {
  // The etcd client retries a call on another member when its member goes away mid-call; the
  // first attempt may have committed. The retry is the same write (same revision) again.
  it('is not a conflict: create and replace succeed again with their own revision, and only with it', async () => {
    const journal = new EtcdJournal({ endpoints: cluster().endpoints, prefix: freshPrefix('retried') });
    try {
      assert.equal(await journal.functions.create('f', { n: 1 }, 'r1'), true);
      assert.equal(await journal.functions.create('f', { n: 1 }, 'r1'), true, 'the retried create finds its own write');
      assert.equal(await journal.functions.create('f', { n: 9 }, 'other'), false, 'another create is still a conflict');
      assert.equal(await journal.functions.replace('f', { n: 2 }, 'r2', 'r1'), true);
      assert.equal(await journal.functions.replace('f', { n: 2 }, 'r2', 'r1'), true, 'the retried replace finds its own write');
      assert.equal(await journal.functions.replace('f', { n: 3 }, 'r3', 'r1'), false, 'a replace from a stale revision is still a conflict');
      assert.deepEqual(await journal.functions.get('f'), { key: 'f', value: { n: 2 }, revision: 'r2' });
    } finally {
      await journal.close();
    }
  });
});
