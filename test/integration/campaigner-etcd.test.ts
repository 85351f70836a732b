// The journal's Campaigner (the one campaign loop of placement, assignment and the scheduler) on a
// real etcd: a leader whose lease etcd revoked ends what it led and campaigns again, a rival
// leads, and it takes over once the rival stops (which resigns, handing over).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Campaigner, EtcdJournal } from '../../src/journal/index.js';
import { systemClock } from '../../src/shared/clock.js';
import { createEtcdClient } from '../../src/shared/etcd.js';
import { silentLogger } from '../../src/shared/log.js';
import { freshPrefix, useEtcdCluster } from '../helpers/etcd.js';
import { until } from '../helpers/wait.js';

describe('Campaigner on etcd', () => {
  const getCluster = useEtcdCluster({ members: 1 });

  it('a leader whose lease etcd revoked ends its work, a rival leads, and on the rival\'s stop it leads again', async () => {
    const prefix = freshPrefix('campaigner');
    const journals = [0, 1].map(() => new EtcdJournal({ endpoints: getCluster().endpoints, prefix }));
    const raw = createEtcdClient({ endpoints: getCluster().endpoints });
    const events: string[] = [];
    const campaigners = journals.map((journal, i) => new Campaigner({
      election: journal.election('test', 3000), candidate: { id: `c${i}`, address: `http://c${i}` }, clock: systemClock, log: silentLogger(), role: 'test',
      lead: async (l) => {
        events.push(`c${i} leads ${l.epoch}`);
        return async () => void events.push(`c${i} ends ${l.epoch}`);
      },
    }));
    const [a, b] = campaigners as [Campaigner, Campaigner];
    try {
      a.start();
      const first = await until(() => a.current(), 'c0 to lead');
      b.start();
      const key = (await raw.get(`${prefix}elections/test`).exec()).kvs[0];
      assert.ok(key);
      await raw.leaseClient.leaseRevoke({ ID: key.lease });
      const second = await until(() => b.current(), 'c1 to lead after c0\'s lease was revoked');
      assert.ok(second.epoch > first.epoch);
      await until(() => events.includes(`c0 ends ${first.epoch}`), 'c0 to end its work');
      assert.equal(a.current(), undefined);
      await b.stop();
      const third = await until(() => a.current(), 'c0 to lead again once c1 resigned');
      assert.ok(third.epoch > second.epoch);
      // c1 may lead before c0's next renewal finds the lease gone (the etcd fence covers that moment); the rest is ordered.
      assert.deepEqual([...events.slice(0, 3)].sort(), [`c0 ends ${first.epoch}`, `c0 leads ${first.epoch}`, `c1 leads ${second.epoch}`]);
      assert.equal(events[0], `c0 leads ${first.epoch}`);
      assert.deepEqual(events.slice(3), [`c1 ends ${second.epoch}`, `c0 leads ${third.epoch}`]);
    } finally {
      await Promise.all(campaigners.map((c) => c.stop()));
      raw.close();
      await Promise.all(journals.map((j) => j.close()));
    }
  });
});
