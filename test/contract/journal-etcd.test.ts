import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdJournal, installationSecret } from '../../src/journal/index.js';
import { loadClusterSecrets } from '../../src/placement/index.js';
import { EtcdAppendLog } from '../../src/journal/etcd-log.js';
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

describe('EtcdJournal assignment log: an append retried after its first attempt committed', () => {
  it('is appended once, at the sequence number its first attempt took (also when the call that committed failed)', async () => {
    const client = new Etcd3({ hosts: cluster().endpoints });
    try {
      const root = client.namespace(freshPrefix('log-retried'));
      const log = new EtcdAppendLog(root);
      assert.equal(await log.append({ n: 0 }), 1);
      // The client's retry on another member, as it happens when the first member goes away after committing.
      const txn = root.kv.txn.bind(root.kv);
      let retry = true;
      root.kv.txn = async (req) => {
        if (retry) {
          retry = false;
          await txn(req);
        }
        return txn(req);
      };
      assert.equal(await log.append({ n: 1 }), 2);
      assert.equal(await log.append({ n: 2 }), 3);
      // A call that committed and then failed (its deadline passed) is a success too, and is not appended again.
      let late = true;
      root.kv.txn = async (req) => {
        const res = await txn(req);
        if (late) {
          late = false;
          throw new Error('deadline exceeded');
        }
        return res;
      };
      assert.equal(await log.append({ n: 3 }), 4);
      // One that failed without committing still fails.
      root.kv.txn = async () => {
        throw new Error('unavailable');
      };
      await assert.rejects(log.append({ n: 4 }), { code: 'JournalUnavailable' });
      root.kv.txn = txn;
      assert.deepEqual(await log.readAfter(0), [1, 2, 3, 4].map((seq) => ({ seq, entry: { n: seq - 1 } })));
    } finally {
      client.close();
    }
  });
});

describe('EtcdJournal: processes that make the same secret at once', () => {
  it('all end up with the winner\'s: the cluster CA and an installation secret', async () => {
    const prefix = freshPrefix('secrets-race');
    const journals = [0, 1, 2, 3].map(() => new EtcdJournal({ endpoints: cluster().endpoints, prefix }));
    try {
      const cas = await Promise.all(journals.map((j) => loadClusterSecrets(j.clusterSecrets, Date.now())));
      assert.equal(new Set(cas.map((s) => s.ca.certPem)).size, 1, 'one CA');
      assert.equal(new Set(cas.map((s) => s.controlPlaneKey)).size, 1, 'one control-plane key');
      const secrets = await Promise.all(journals.map((j) => installationSecret(j.clusterSecrets, 'race')));
      assert.equal(new Set(secrets).size, 1, 'one installation secret');
    } finally {
      await Promise.all(journals.map((j) => j.close()));
    }
  });
});
