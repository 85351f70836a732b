import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal, type Candidate, type DocumentStore, type Leadership, type LeadershipStanding } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { silentLogger } from '../shared/log.js';
import { WorkerDirectory } from './directory.js';

const doc = (id: string) => ({ id, url: `https://${id}`, status: { id, memoryMb: 128, memoryReservedMb: 0, environments: 0, cachedCode: [] } });
const settle = () => new Promise((r) => setTimeout(r, 20));
const me: Candidate = { id: 'p1', address: 'https://p1' };
const RETRY_MS = 250;

describe('WorkerDirectory fencing (a deposed placement leader)', () => {
  it('writes while the leadership is current, and neither deletes nor rewrites an entry once it is not', async () => {
    const journal = new MemoryJournal();
    let leadership: Leadership | undefined = await journal.election('placement').campaign(me);
    const directory = new WorkerDirectory(journal.workers, silentLogger(), { leadership: () => leadership, clock: new ManualClock(0), retryMs: RETRY_MS });
    directory.publish(doc('w1'));
    directory.publish(doc('w2'));
    await settle();
    assert.deepEqual((await directory.recorded()).map((w) => w.id), ['w1', 'w2']);
    await leadership.resign();
    directory.remove('w1');
    directory.publish({ ...doc('w2'), url: 'https://elsewhere' });
    await settle();
    assert.deepEqual((await directory.recorded()).map((w) => [w.id, w.url]), [['w1', 'https://w1'], ['w2', 'https://w2']]);
    assert.deepEqual(directory.pendingRemovals(), [], 'a deposed leader keeps no delete for later either');
    leadership = await journal.election('placement').campaign(me);
    directory.remove('w1');
    await settle();
    assert.deepEqual((await directory.recorded()).map((w) => w.id), ['w2']);
  });

  it('checks the fence when the write is made, not when it was asked for (a write queued before the leadership ended)', async () => {
    const journal = new MemoryJournal();
    const leadership = await journal.election('placement').campaign(me);
    const directory = new WorkerDirectory(journal.workers, silentLogger(), { leadership: () => leadership, clock: new ManualClock(0), retryMs: RETRY_MS });
    directory.publish(doc('w1'));
    await settle();
    directory.remove('w1');
    await leadership.resign();
    await settle();
    assert.deepEqual((await directory.recorded()).map((w) => w.id), ['w1']);
  });

  it('keeps a worker\'s recorded drain mark when a heartbeat\'s entry (which carries none) is written; an explicit mark replaces it', async () => {
    const journal = new MemoryJournal();
    const directory = new WorkerDirectory(journal.workers, silentLogger());
    directory.publish({ ...doc('w1'), draining: true });
    directory.publish({ ...doc('w1'), url: 'https://w1-moved' });
    await settle();
    assert.deepEqual((await directory.recorded()).map((w) => [w.url, w.draining]), [['https://w1-moved', true]]);
    directory.publish({ ...doc('w1'), draining: false });
    directory.publish(doc('w1'));
    await settle();
    assert.notEqual((await directory.recorded())[0]?.draining, true, 'undrained');
  });
});

/** A leadership whose standing the test sets (the journal's own fence is not under test here). */
class FakeLeadership implements Leadership {
  standingNow: LeadershipStanding = 'held';
  readonly lost = new Promise<string>(() => undefined);
  constructor(readonly epoch: number, readonly candidate: Candidate = me) {}
  standing(): LeadershipStanding {
    return this.standingNow;
  }
  resign(): Promise<void> {
    this.standingNow = 'lost';
    return Promise.resolve();
  }
}

/** The journal's workers store, whose writes fail as etcd's do without quorum while `down`. */
function flakyStore(journal: MemoryJournal): DocumentStore & { down: boolean; deletes: number } {
  const inner = journal.workers;
  const store = {
    down: false,
    deletes: 0,
    get: (key: string) => inner.get(key),
    list: () => inner.list(),
    create: (key: string, value: unknown, revision: string) => inner.create(key, value, revision),
    replace: (key: string, value: unknown, revision: string, expected: string) => inner.replace(key, value, revision, expected),
    delete: async (key: string) => {
      store.deletes++;
      if (store.down) throw new StratusError('JournalUnavailable', 'etcd delete failed: context deadline exceeded');
      return inner.delete(key);
    },
    watch: (listener: Parameters<DocumentStore['watch']>[0]) => inner.watch(listener),
  };
  return store;
}

async function setUp() {
  const journal = new MemoryJournal();
  const store = flakyStore(journal);
  const clock = new ManualClock(0);
  const fencing = { leadership: new FakeLeadership(1) as Leadership | undefined };
  const directory = new WorkerDirectory(store, silentLogger(), { leadership: () => fencing.leadership, clock, retryMs: RETRY_MS });
  directory.publish(doc('w1'));
  directory.publish(doc('w2'));
  await settle();
  const ids = async () => (await directory.recorded()).map((w) => w.id);
  const tick = async () => {
    clock.advance(RETRY_MS);
    await settle();
  };
  return { store, fencing, directory, ids, tick };
}

describe('WorkerDirectory: a delete deferred while etcd had no quorum', () => {
  it('is made on a later sweep once the leadership holds again (not dropped)', async () => {
    const { fencing, directory, ids, tick } = await setUp();
    const leadership = fencing.leadership as FakeLeadership;
    leadership.standingNow = 'no-quorum';
    directory.remove('w1');
    await settle();
    assert.deepEqual(directory.pendingRemovals(), ['w1']);
    await tick();
    assert.deepEqual(await ids(), ['w1', 'w2'], 'nothing deleted without quorum');
    assert.deepEqual(directory.pendingRemovals(), ['w1'], 'still due');
    leadership.standingNow = 'held';
    await tick();
    assert.deepEqual(await ids(), ['w2']);
    assert.deepEqual(directory.pendingRemovals(), []);
  });

  it('is retried while the journal fails the delete, until it succeeds', async () => {
    const { store, directory, ids, tick } = await setUp();
    store.down = true;
    directory.remove('w1');
    await settle();
    assert.equal(store.deletes, 1);
    await tick();
    await tick();
    assert.equal(store.deletes, 3, 'one attempt per sweep');
    assert.deepEqual(directory.pendingRemovals(), ['w1']);
    store.down = false;
    await tick();
    assert.deepEqual(await ids(), ['w2']);
    await tick();
    assert.equal(store.deletes, 4, 'done: no more attempts');
  });

  it('is dropped when the worker registers again before it is made', async () => {
    const { store, directory, ids, tick } = await setUp();
    store.down = true;
    directory.remove('w1');
    await settle();
    store.down = false;
    directory.publish(doc('w1'));
    await tick();
    assert.deepEqual(await ids(), ['w1', 'w2']);
    assert.deepEqual(directory.pendingRemovals(), []);
  });

  it('is dropped when the leadership it was due under ends (the successor adopts the worker and expires it itself)', async () => {
    const { fencing, store, directory, ids, tick } = await setUp();
    store.down = true;
    directory.remove('w1');
    await settle();
    store.down = false;
    fencing.leadership = new FakeLeadership(2);
    await tick();
    assert.deepEqual(await ids(), ['w1', 'w2']);
    assert.deepEqual(directory.pendingRemovals(), []);
    directory.stop();
  });
});
