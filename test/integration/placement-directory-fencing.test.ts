// The placement leader's worker directory on a real 3-member etcd. Fencing by etcd itself: a leader
// whose election key was deleted, or replaced by a successor's, while its own clock still says it
// holds the lease (paused or cut off, it has not noticed yet) cannot delete, rewrite or create an
// entry — the write's transaction compares the key's create revision and fails. And a delete that
// came due while etcd had no quorum is not lost: it is made once quorum is back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EtcdJournal, type Leadership } from '../../src/journal/index.js';
import { WorkerDirectory, type WorkerDocument } from '../../src/placement/index.js';
import { systemClock } from '../../src/shared/clock.js';
import { createEtcdClient } from '../../src/shared/etcd.js';
import { silentLogger } from '../../src/shared/log.js';
import { freshPrefix, useEtcdCluster } from '../helpers/etcd.js';
import { until } from '../helpers/wait.js';

const doc = (id: string, url = `https://${id}`): WorkerDocument => ({ id, url, status: { id, memoryMb: 128, memoryReservedMb: 0, environments: 0, cachedCode: [] } });
const candidate = (id: string) => ({ id, address: `https://${id}` });

function directoryOf(journal: EtcdJournal, leadership: () => Leadership | undefined): WorkerDirectory {
  return new WorkerDirectory(journal.workers, silentLogger(), { leadership, clock: systemClock, retryMs: 200 });
}

const entries = async (journal: EtcdJournal) => (await journal.workers.list()).map((d) => [d.key, (d.value as WorkerDocument).url]);

describe('placement directory writes fenced by etcd (3-member etcd)', () => {
  const getCluster = useEtcdCluster({ members: 3 });

  it('a leader whose election key was deleted, then replaced by a successor\'s, writes nothing, though its clock says it holds', async () => {
    const prefix = freshPrefix('fence');
    const journal = new EtcdJournal({ endpoints: getCluster().endpoints, prefix });
    const successorJournal = new EtcdJournal({ endpoints: getCluster().endpoints, prefix });
    const raw = createEtcdClient({ endpoints: getCluster().endpoints });
    try {
      const deposed = await journal.election('placement', 5000).campaign(candidate('p1'));
      const directory = directoryOf(journal, () => deposed);
      directory.publish(doc('w1'));
      directory.publish(doc('w2'));
      await directory.idle();
      assert.deepEqual(await entries(journal), [['w1', 'https://w1'], ['w2', 'https://w2']], 'the leader writes');

      // Its key goes (as when etcd expired its lease while the process was paused); its lease itself still renews.
      await raw.delete().key(`${prefix}elections/placement`).exec();
      assert.equal(deposed.standing(), 'held', 'by its own clock it still leads');
      directory.remove('w1');
      directory.publish(doc('w2', 'https://stale'));
      directory.publish(doc('w3'));
      await directory.idle();
      await assert.rejects(journal.workers.delete('w1', deposed), { code: 'Fenced' });
      assert.deepEqual(await entries(journal), [['w1', 'https://w1'], ['w2', 'https://w2']], 'no delete, rewrite or create landed');
      assert.deepEqual(directory.pendingRemovals(), [], 'a fenced delete is not kept for later');

      const successor = await successorJournal.election('placement', 5000).campaign(candidate('p2'));
      assert.ok(successor.epoch > deposed.epoch);
      const successorDirectory = directoryOf(successorJournal, () => successor);
      directory.remove('w2');
      successorDirectory.publish(doc('w1', 'https://w1-again'));
      successorDirectory.remove('w2');
      await Promise.all([directory.idle(), successorDirectory.idle()]);
      await assert.rejects(journal.workers.create('w9', doc('w9'), 'r', deposed), { code: 'Fenced' });
      assert.equal(deposed.standing(), 'held');
      assert.deepEqual(await entries(journal), [['w1', 'https://w1-again']], 'only the successor\'s writes landed');
      await successor.resign();
    } finally {
      raw.close();
      await successorJournal.close();
      await journal.close();
    }
  });

  it('a worker lost while etcd has no quorum: its directory delete is deferred, then made once quorum is back', async () => {
    const cluster = getCluster();
    // As in etcd-journal-failures.test.ts: a 2 s TTL, so the standing goes to no-quorum rather than (safely) lost.
    const journal = new EtcdJournal({ endpoints: cluster.endpoints, prefix: freshPrefix('quorum'), callTimeoutMs: 1000 });
    try {
      const leadership = await journal.election('placement', 2000).campaign(candidate('p1'));
      const directory = directoryOf(journal, () => leadership);
      directory.publish(doc('w1'));
      directory.publish(doc('w2'));
      await directory.idle();
      await cluster.members[1]!.stop();
      await cluster.members[2]!.stop();
      // The worker's lease runs out now: whether the leadership already stands without quorum or the delete times out, it is deferred.
      directory.remove('w1');
      await directory.idle();
      assert.deepEqual(directory.pendingRemovals(), ['w1']);
      await until(() => leadership.standing() === 'no-quorum', 'the leadership to stand without quorum', 6000);
      await cluster.members[1]!.start();
      await cluster.members[2]!.start();
      await until(async () => directory.pendingRemovals().length === 0 && (await entries(journal).catch(() => [])).length === 1, 'the deferred delete to be made', 20_000);
      assert.notEqual(leadership.standing(), 'lost');
      assert.deepEqual(await entries(journal), [['w2', 'https://w2']]);
      directory.stop();
      await leadership.resign();
    } finally {
      await Promise.all(cluster.members.map((m) => m.start()));
      await journal.close();
    }
  });
});
