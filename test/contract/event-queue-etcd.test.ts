// EtcdEventQueue on a real etcd member, as two processes would use it (two clients): every item
// goes to exactly one owner, and the lifecycle put -> claim -> reschedule -> claim -> remove.
// (The Journal contract's event-queue cases run on EtcdJournal too.)
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createEtcdClient } from '../../src/shared/etcd.js';
import { EtcdEventQueue } from '../../src/journal/etcd-event-queue.js';
import { freshPrefix, useEtcdCluster } from '../helpers/etcd.js';

describe('EtcdEventQueue', () => {
  const cluster = useEtcdCluster({ members: 1 });
  const clients: ReturnType<typeof createEtcdClient>[] = [];
  const queue = (prefix: string) => {
    const client = createEtcdClient({ endpoints: cluster().endpoints });
    clients.push(client);
    return new EtcdEventQueue(client.namespace(prefix));
  };
  after(() => {
    for (const c of clients) c.close();
  });

  it('hands each item to exactly one of two competing processes', async () => {
    const prefix = freshPrefix('queue');
    const [a, b] = [queue(prefix), queue(prefix)];
    const T = 1_000_000;
    const puts = await Promise.all(Array.from({ length: 60 }, (_, i) => a.put({ id: `e${i}`, dueAtMs: T - i, value: { i } })));
    assert.ok(puts.every(Boolean));
    const claimed = await Promise.all([a.claim('A', T, 5000, 40), b.claim('B', T, 5000, 40), a.claim('A2', T, 5000, 40)]);
    const ids = claimed.flat().map((e) => e.id);
    assert.equal(ids.length, 60, 'all due items were claimed');
    assert.equal(new Set(ids).size, 60, 'none twice');
    assert.equal(await b.count(), 60);
  });

  it('reschedules and removes through another process', async () => {
    const prefix = freshPrefix('queue');
    const [a, b] = [queue(prefix), queue(prefix)];
    const T = 5_000;
    assert.equal(await a.put({ id: 'x', dueAtMs: T, value: { attempt: 0 } }), true);
    assert.equal(await b.put({ id: 'x', dueAtMs: T, value: { attempt: 9 } }), false);
    const [first] = await b.claim('B', T, 1000, 10);
    assert.deepEqual(first, { id: 'x', dueAtMs: T, value: { attempt: 0 }, claimUntilMs: T + 1000 });
    assert.equal(await a.reschedule({ id: 'x', dueAtMs: T + 100, value: { attempt: 1 } }, 'B', T + 10), true);
    assert.deepEqual(await a.claim('A', T + 99, 1000, 10), []);
    const [again] = await a.claim('A', T + 100, 1000, 10);
    assert.deepEqual(again?.value, { attempt: 1 });
    assert.equal(await b.remove('x', 'B', T + 101), false, 'B no longer holds it');
    assert.equal(await b.remove('x', 'A', T + 101), true);
    assert.equal(await a.count(), 0);
  });
});
