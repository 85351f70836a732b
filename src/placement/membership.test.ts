import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal, type DocumentStore } from '../journal/index.js';
import type { WorkerStatus } from '../worker/index.js';
import { FakeWorker } from '../../test/helpers/fake-worker.js';
import type { ConnectedWorker, WorkerConnector } from './connector.js';
import { WorkerMembership } from './membership.js';
import { PlacementService } from './placement.js';

const status = (id: string): WorkerStatus => ({ id, memoryMb: 1024, memoryReservedMb: 0, environments: 0, cachedCode: [] });
const doc = (id: string) => ({ id, url: `http://${id}`, status: status(id) });

const connector: WorkerConnector = {
  connect: ({ id }) => Object.assign(new FakeWorker(id), { report: () => {} }) as ConnectedWorker,
};

describe('WorkerMembership', () => {
  it('a heartbeat that lands while the membership first reads the workers is not a join; a worker that comes later is', async () => {
    const store = new MemoryJournal().workers;
    await store.create('w1', doc('w1'), '1');
    // The first listing is slow: meanwhile w1's heartbeat rewrites its document.
    const slow: DocumentStore = {
      ...store,
      get: (key) => store.get(key),
      create: (key, value, revision) => store.create(key, value, revision),
      replace: (key, value, revision, expected) => store.replace(key, value, revision, expected),
      delete: (key) => store.delete(key),
      watch: (listener) => store.watch(listener),
      list: async () => {
        await store.replace('w1', doc('w1'), '2', '1');
        await new Promise((resolve) => setImmediate(resolve));
        return store.list();
      },
    };
    const placement = new PlacementService();
    const joined: string[] = [];
    const membership = new WorkerMembership({ store: slow, placement, connector, onJoined: (agent) => joined.push(agent.id) });
    await membership.start();
    assert.deepEqual(placement.workers().map((w) => w.id), ['w1']);
    assert.deepEqual(joined, [], 'w1 was there from the start: a takeover surveys it, nobody reconciles it as new');
    await store.create('w2', doc('w2'), '1');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(joined, ['w2']);
    membership.stop();
  });

  it('a worker the directory marks draining gets no new environment, and gets them again once unmarked', async () => {
    const store = new MemoryJournal().workers;
    await store.create('w1', doc('w1'), '1');
    await store.create('w2', doc('w2'), '1');
    const placement = new PlacementService();
    const membership = new WorkerMembership({ store, placement, connector });
    await membership.start();
    await store.replace('w2', { ...doc('w2'), draining: true }, '2', '1');
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 4; i++) assert.equal(placement.place({ memoryMb: 128, codeSha256: 'x' })?.id, 'w1');
    await store.replace('w2', doc('w2'), '3', '2');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(placement.place({ memoryMb: 128, codeSha256: 'x' })?.id, 'w2', 'the one with the most room again');
    membership.stop();
  });
});
