import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { Journal, StoredDocument } from '../../src/journal/index.js';

export interface JournalUnderTest {
  journal: Journal;
  /** Another journal on the same storage (another process's view), where the engine has one. */
  second?(): Promise<Journal>;
  cleanup(): Promise<void>;
}

/** The contract every Journal engine passes (SQLite, in-memory, etcd). */
export function runJournalContract(name: string, newJournal: () => Promise<JournalUnderTest>, opts: { ttlMs?: number } = {}): void {
  const ttlMs = opts.ttlMs ?? 1000;
  describe(`Journal contract: ${name}`, () => {
    const withJournal = (fn: (j: Journal, under: JournalUnderTest) => Promise<void>) => async () => {
      const under = await newJournal();
      const opened: Journal[] = [];
      const second = under.second;
      const tracked: JournalUnderTest = { ...under };
      if (second) {
        tracked.second = async () => {
          const j = await second();
          opened.push(j);
          return j;
        };
      }
      try {
        await fn(under.journal, tracked);
      } finally {
        for (const j of opened) await j.close();
        await under.journal.close();
        await under.cleanup();
      }
    };

    it('creates a document once and refuses a duplicate key', withJournal(async (j) => {
      assert.equal(await j.functions.create('a', { x: 1 }, 'r1'), true);
      assert.equal(await j.functions.create('a', { x: 2 }, 'r2'), false);
      assert.deepEqual(await j.functions.get('a'), { key: 'a', value: { x: 1 }, revision: 'r1' });
    }));

    it('replaces only on the expected revision', withJournal(async (j) => {
      await j.functions.create('a', { x: 1 }, 'r1');
      assert.equal(await j.functions.replace('a', { x: 2 }, 'r2', 'wrong'), false);
      assert.equal(await j.functions.replace('a', { x: 2 }, 'r2', 'r1'), true);
      assert.deepEqual((await j.functions.get('a'))?.value, { x: 2 });
      assert.equal(await j.functions.replace('missing', {}, 'r', 'r'), false);
    }));

    it('lists in key order and deletes', withJournal(async (j) => {
      await j.functions.create('b', 2, 'r');
      await j.functions.create('a', 1, 'r');
      assert.deepEqual((await j.functions.list()).map((d) => d.key), ['a', 'b']);
      await j.functions.create('111/f', 3, 'r');
      await j.functions.create('1111/g', 4, 'r');
      assert.deepEqual((await j.functions.list('111/')).map((d) => [d.key, d.value]), [['111/f', 3]], 'a prefix lists only its keys');
      assert.deepEqual(await j.functions.list('2'), []);
      assert.equal(await j.functions.delete('a'), true);
      assert.equal(await j.functions.delete('a'), false);
      assert.equal(await j.functions.get('a'), undefined);
    }));

    it('keeps each document collection apart, with its own revisions', withJournal(async (j) => {
      const stores = { functions: j.functions, versions: j.versions, aliases: j.aliases, functionUrls: j.functionUrls, workers: j.workers };
      for (const [name, store] of Object.entries(stores)) {
        assert.equal(await store.create('fn:1', { from: name }, `r-${name}`), true, `${name} accepts a key the others hold`);
      }
      for (const [name, store] of Object.entries(stores)) {
        assert.deepEqual(await store.get('fn:1'), { key: 'fn:1', value: { from: name }, revision: `r-${name}` });
        assert.deepEqual((await store.list()).map((d) => d.key), ['fn:1']);
      }
      assert.equal(await j.versions.replace('fn:1', {}, 'r2', 'r-functions'), false, 'revisions are per collection');
      assert.equal(await j.aliases.delete('fn:1'), true);
      assert.equal(await j.aliases.get('fn:1'), undefined);
      assert.deepEqual((await j.functionUrls.get('fn:1'))?.value, { from: 'functionUrls' }, 'a delete touches one collection');
    }));

    it('appends log entries in order; a snapshot compacts the entries it covers', withJournal(async (j) => {
      assert.equal(await j.assignmentLog.readSnapshot(), undefined);
      const s1 = await j.assignmentLog.append({ type: 'created', id: 1 });
      const s2 = await j.assignmentLog.append({ type: 'destroyed', id: 1 });
      assert.ok(s2 > s1);
      assert.deepEqual(await j.assignmentLog.readAfter(0), [
        { seq: s1, entry: { type: 'created', id: 1 } },
        { seq: s2, entry: { type: 'destroyed', id: 1 } },
      ]);
      assert.deepEqual((await j.assignmentLog.readAfter(s1)).map((e) => e.seq), [s2]);
      assert.deepEqual((await j.assignmentLog.readAfter(0, 1)).map((e) => e.seq), [s1], 'limit');
      await j.assignmentLog.compact({ seq: s1, state: { environments: ['a'] } });
      assert.deepEqual(await j.assignmentLog.readSnapshot(), { seq: s1, state: { environments: ['a'] } });
      assert.deepEqual((await j.assignmentLog.readAfter(0)).map((e) => e.seq), [s2]);
      const s3 = await j.assignmentLog.append({ type: 'created', id: 2 });
      assert.ok(s3 > s2, 'sequence numbers never go back after compaction');
      await j.assignmentLog.compact({ seq: s3, state: { environments: [] } });
      assert.deepEqual(await j.assignmentLog.readAfter(0), []);
      assert.deepEqual(await j.assignmentLog.readSnapshot(), { seq: s3, state: { environments: [] } });
    }));

    it('reads a long log in order', withJournal(async (j) => {
      const seqs: number[] = [];
      for (let i = 0; i < 1200; i += 50) {
        seqs.push(...(await Promise.all(Array.from({ length: 50 }, (_, k) => j.assignmentLog.append({ i: i + k })))));
      }
      const read = await j.assignmentLog.readAfter(0, Number.MAX_SAFE_INTEGER);
      assert.equal(read.length, 1200);
      assert.deepEqual(read.map((e) => e.seq), [...seqs].sort((a, b) => a - b), 'concurrent appends get distinct, ordered seqs');
    }));

    it('watches creates, replaces and deletes made through this journal', withJournal(async (j) => {
      await j.functions.create('before', 0, 'r0');
      const seen = recorder();
      const stop = await j.functions.watch(seen.listener);
      await j.functions.create('a', { x: 1 }, 'r1');
      await j.functions.replace('a', { x: 2 }, 'r2', 'r1');
      await j.versions.create('a', { other: true }, 'r1');
      await j.functions.delete('a');
      await seen.until(3);
      assert.deepEqual(seen.events, [
        ['a', { key: 'a', value: { x: 1 }, revision: 'r1' }],
        ['a', { key: 'a', value: { x: 2 }, revision: 'r2' }],
        ['a', undefined],
      ], 'only changes after the watch started, and only of this collection');
      stop();
      await j.functions.create('b', 1, 'r1');
      await sleep(200);
      assert.equal(seen.events.length, 3, 'no events after stopping');
    }));

    it('watches changes made through another journal on the same storage', withJournal(async (j, under) => {
      if (!under.second) return;
      const other = await under.second();
      const seen = recorder();
      const stop = await j.workers.watch(seen.listener);
      await other.workers.create('w1', { url: 'http://w1' }, 'r1');
      await other.workers.delete('w1');
      await seen.until(2);
      assert.deepEqual(seen.events, [['w1', { key: 'w1', value: { url: 'http://w1' }, revision: 'r1' }], ['w1', undefined]]);
      stop();
    }));

    it('elects one leader at a time; a second campaign waits until the first resigns', withJournal(async (j, under) => {
      const other = under.second ? await under.second() : j;
      const a = await j.election('assignment', ttlMs).campaign({ id: 'a', address: 'http://a' });
      assert.equal(a.standing(), 'held');
      assert.deepEqual(await other.election('assignment', ttlMs).leader(), { id: 'a', address: 'http://a' });
      const changes: unknown[] = [];
      const unwatch = await j.election('assignment', ttlMs).watchLeader((l) => changes.push(l?.id));
      let bElected = false;
      const b = other.election('assignment', ttlMs).campaign({ id: 'b', address: 'http://b' }).then((l) => {
        bElected = true;
        return l;
      });
      await sleep(300);
      assert.equal(bElected, false, 'b waits while a holds the leadership');
      assert.equal(a.standing(), 'held');
      await a.resign();
      assert.equal(a.standing(), 'lost');
      assert.equal(await a.lost, 'resigned');
      const lb = await b;
      assert.ok(lb.epoch > a.epoch, 'epochs increase');
      assert.deepEqual(await j.election('assignment', ttlMs).leader(), { id: 'b', address: 'http://b' });
      await waitFor(() => changes.at(-1) === 'b');
      assert.deepEqual(changes.filter((c) => c !== 'a'), [undefined, 'b']);
      unwatch();
      const other2 = await j.election('other-name', ttlMs).campaign({ id: 'c', address: 'http://c' });
      assert.equal(other2.standing(), 'held', 'names are independent');
      await lb.resign();
      await other2.resign();
      assert.equal(await j.election('assignment', ttlMs).leader(), undefined);
    }));

    it('stops a waiting campaign when its signal aborts', withJournal(async (j) => {
      const a = await j.election('assignment', ttlMs).campaign({ id: 'a', address: 'http://a' });
      const abort = new AbortController();
      const waiting = j.election('assignment', ttlMs).campaign({ id: 'b', address: 'http://b' }, abort.signal);
      await sleep(100);
      abort.abort(new Error('gave up'));
      await assert.rejects(waiting, /gave up/);
      await a.resign();
      const c = await j.election('assignment', ttlMs).campaign({ id: 'c', address: 'http://c' });
      assert.ok(c.epoch > a.epoch);
      await c.resign();
    }));

    it('rejects fenced writes of a leadership once a successor is elected', withJournal(async (j, under) => {
      const other = under.second ? await under.second() : j;
      const a = await j.election('assignment', ttlMs).campaign({ id: 'a', address: 'http://a' });
      const s1 = await j.assignmentLog.append({ by: 'a' }, a);
      await a.resign();
      const b = await other.election('assignment', ttlMs).campaign({ id: 'b', address: 'http://b' });
      await assert.rejects(j.assignmentLog.append({ by: 'a' }, a), { code: 'Fenced' });
      await assert.rejects(j.assignmentLog.compact({ seq: s1, state: {} }, a), { code: 'Fenced' });
      const s2 = await other.assignmentLog.append({ by: 'b' }, b);
      await other.assignmentLog.compact({ seq: s1, state: { by: 'b' } }, b);
      assert.deepEqual(await j.assignmentLog.readAfter(0), [{ seq: s2, entry: { by: 'b' } }], 'nothing of the fenced writes');
      assert.deepEqual(await j.assignmentLog.readSnapshot(), { seq: s1, state: { by: 'b' } });
      await b.resign();
      await assert.rejects(other.assignmentLog.append({ by: 'b' }, b), { code: 'Fenced' }, 'fenced with no leader at all');
    }));

    it('fences document writes: a leadership writes while it is current, and nothing once a successor is elected', withJournal(async (j, under) => {
      const other = under.second ? await under.second() : j;
      const a = await j.election('placement', ttlMs).campaign({ id: 'a', address: 'http://a' });
      assert.equal(await j.workers.create('w1', { by: 'a' }, 'r1', a), true);
      assert.equal(await j.workers.create('w2', { by: 'a' }, 'r1', a), true);
      assert.equal(await j.workers.replace('w1', { by: 'a', n: 2 }, 'r2', 'r1', a), true);
      assert.equal(await j.workers.create('w1', { by: 'a' }, 'r9', a), false, 'a fenced create is still refused on an existing key');
      await a.resign();
      const b = await other.election('placement', ttlMs).campaign({ id: 'b', address: 'http://b' });
      await assert.rejects(j.workers.create('w3', { by: 'a' }, 'r1', a), { code: 'Fenced' });
      await assert.rejects(j.workers.replace('w1', { by: 'a', n: 3 }, 'r3', 'r2', a), { code: 'Fenced' });
      await assert.rejects(j.workers.delete('w2', a), { code: 'Fenced' });
      assert.deepEqual((await j.workers.list()).map((d) => [d.key, d.value]), [['w1', { by: 'a', n: 2 }], ['w2', { by: 'a' }]], 'nothing of the fenced writes');
      assert.equal(await other.workers.replace('w1', { by: 'b' }, 'r3', 'r2', b), true);
      assert.equal(await other.workers.delete('w2', b), true);
      assert.equal(await other.workers.delete('w2', b), false, 'nothing left to delete');
      await b.resign();
      await assert.rejects(other.workers.delete('w1', b), { code: 'Fenced' }, 'fenced with no leader at all');
      assert.deepEqual((await j.workers.list()).map((d) => d.key), ['w1']);
    }));

    describe('event queue', () => {
      const T = 1_000_000;
      const ev = (id: string, dueAtMs = T, value: unknown = { id }) => ({ id, dueAtMs, value });

      it('puts an item once and counts it', withJournal(async (j) => {
        assert.equal(await j.eventQueue.put(ev('a', T, { payload: 'eyJ4IjoxfQ==', attempt: 0 })), true);
        assert.equal(await j.eventQueue.put(ev('a', T, { other: true })), false, 'a queued id is not overwritten');
        assert.equal(await j.eventQueue.count(), 1);
        const [claimed] = await j.eventQueue.claim('o1', T, 1000, 10);
        assert.deepEqual(claimed, { id: 'a', dueAtMs: T, value: { payload: 'eyJ4IjoxfQ==', attempt: 0 }, claimUntilMs: T + 1000 });
      }));

      it('settles concurrent puts independently', withJournal(async (j) => {
        const [a1, b, a2] = await Promise.all([j.eventQueue.put(ev('a', T, 1)), j.eventQueue.put(ev('b')), j.eventQueue.put(ev('a', T, 2))]);
        assert.equal(b, true);
        assert.equal(Number(a1) + Number(a2), 1, 'exactly one of two puts of one id is stored');
        const [stored] = (await j.eventQueue.claim('o1', T, 1000, 10)).filter((e) => e.id === 'a');
        assert.equal(stored?.value, a1 ? 1 : 2, 'the stored one is the one that resolved true');
        assert.equal(await j.eventQueue.count(), 2);
      }));

      it('claims only due items, earliest first, at most limit', withJournal(async (j) => {
        await j.eventQueue.put(ev('late', T + 500));
        await j.eventQueue.put(ev('second', T - 10));
        await j.eventQueue.put(ev('first', T - 20));
        await j.eventQueue.put(ev('third', T));
        assert.deepEqual((await j.eventQueue.claim('o1', T, 1000, 2)).map((e) => e.id), ['first', 'second']);
        assert.deepEqual((await j.eventQueue.claim('o1', T, 1000, 10)).map((e) => e.id), ['third'], 'claimed items are not handed out again');
        assert.deepEqual(await j.eventQueue.claim('o1', T + 499, 1000, 10), []);
        assert.deepEqual((await j.eventQueue.claim('o1', T + 500, 1000, 10)).map((e) => e.id), ['late']);
        assert.deepEqual(await j.eventQueue.claim('o1', T, 1000, 0), []);
      }));

      it('never gives one item to two owners at once; an expired claim passes to another owner', withJournal(async (j) => {
        for (const id of ['a', 'b', 'c']) await j.eventQueue.put(ev(id));
        const [one, two] = await Promise.all([j.eventQueue.claim('o1', T, 1000, 2), j.eventQueue.claim('o2', T, 1000, 2)]);
        const ids = [...(one ?? []), ...(two ?? [])].map((e) => e.id).sort();
        assert.deepEqual(ids, ['a', 'b', 'c'], 'each item went to exactly one owner');
        assert.deepEqual(await j.eventQueue.claim('o3', T + 999, 1000, 10), [], 'claims still live');
        const taken = await j.eventQueue.claim('o3', T + 1000, 1000, 10);
        assert.deepEqual(taken.map((e) => e.id).sort(), ['a', 'b', 'c'], 'claims expire at claimUntilMs');
        assert.ok(taken.every((e) => e.claimUntilMs === T + 2000));
        const first = (one ?? [])[0] ?? (two ?? [])[0];
        assert.ok(first);
        const oldOwner = (one ?? []).includes(first) ? 'o1' : 'o2';
        assert.equal(await j.eventQueue.remove(first.id, oldOwner, T + 1001), false, 'the old owner lost it');
        assert.equal(await j.eventQueue.reschedule({ ...first, dueAtMs: T + 5000 }, oldOwner, T + 1001), false);
        assert.equal(await j.eventQueue.extend(first.id, oldOwner, T + 1001, 1000), false);
        assert.equal(await j.eventQueue.count(), 3);
      }));

      it('two journals on the same storage (two processes) never claim one item twice', withJournal(async (j, under) => {
        const other = under.second ? await under.second() : j;
        await Promise.all(Array.from({ length: 12 }, (_, i) => j.eventQueue.put(ev(`e${String(i).padStart(2, '0')}`))));
        const claims = await Promise.all([j.eventQueue.claim('A', T, 1000, 8), other.eventQueue.claim('B', T, 1000, 8), j.eventQueue.claim('C', T, 1000, 8)]);
        const ids = claims.flat().map((e) => e.id);
        assert.equal(new Set(ids).size, ids.length, 'no item went to two owners');
        assert.ok(ids.length <= 12);
        const rest = await other.eventQueue.claim('D', T, 1000, 20);
        assert.equal(ids.length + rest.length, 12, 'every item was claimed exactly once');
        assert.equal(await other.eventQueue.count(), 12, 'both see the same queue');
      }));

      it('extends a live claim only for its owner', withJournal(async (j) => {
        await j.eventQueue.put(ev('a'));
        await j.eventQueue.claim('o1', T, 1000, 10);
        assert.equal(await j.eventQueue.extend('a', 'o2', T + 500, 1000), false, 'not the owner');
        assert.equal(await j.eventQueue.extend('a', 'o1', T + 500, 1000), true);
        assert.deepEqual(await j.eventQueue.claim('o2', T + 1200, 1000, 10), [], 'the claim now lasts until T+1500');
        assert.equal((await j.eventQueue.claim('o2', T + 1500, 1000, 10)).length, 1);
        assert.equal(await j.eventQueue.extend('a', 'o1', T + 1600, 1000), false, 'an expired claim cannot be revived');
        assert.equal(await j.eventQueue.extend('missing', 'o1', T, 1000), false);
      }));

      it('reschedules: stores the new state, ends the claim, and the item comes due again', withJournal(async (j) => {
        await j.eventQueue.put(ev('a', T, { attempt: 0 }));
        await j.eventQueue.claim('o1', T, 1000, 10);
        assert.equal(await j.eventQueue.reschedule({ id: 'a', dueAtMs: T + 60_000, value: { attempt: 1 } }, 'o2', T + 1), false, 'not the owner');
        assert.equal(await j.eventQueue.reschedule({ id: 'a', dueAtMs: T + 60_000, value: { attempt: 1 } }, 'o1', T + 1), true);
        assert.equal(await j.eventQueue.reschedule({ id: 'a', dueAtMs: T + 60_000, value: { attempt: 2 } }, 'o1', T + 2), false, 'the claim ended');
        assert.deepEqual(await j.eventQueue.claim('o2', T + 59_999, 1000, 10), []);
        const [again] = await j.eventQueue.claim('o2', T + 60_000, 1000, 10);
        assert.deepEqual(again, { id: 'a', dueAtMs: T + 60_000, value: { attempt: 1 }, claimUntilMs: T + 61_000 });
        assert.equal(await j.eventQueue.reschedule({ id: 'missing', dueAtMs: T, value: {} }, 'o1', T), false);
      }));

      it('removes an item only for the owner of a live claim', withJournal(async (j) => {
        await j.eventQueue.put(ev('a'));
        assert.equal(await j.eventQueue.remove('a', 'o1', T), false, 'unclaimed');
        await j.eventQueue.claim('o1', T, 1000, 10);
        assert.equal(await j.eventQueue.remove('a', 'o2', T), false, 'not the owner');
        assert.equal(await j.eventQueue.remove('a', 'o1', T + 1000), false, 'claim expired');
        await j.eventQueue.claim('o1', T + 1000, 1000, 10);
        assert.equal(await j.eventQueue.remove('a', 'o1', T + 1001), true);
        assert.equal(await j.eventQueue.count(), 0);
        assert.equal(await j.eventQueue.put(ev('a')), true, 'a removed id can be queued again');
      }));
    });
  });
}

/** Collects watch events; `until(n)` waits for n of them. */
function recorder() {
  const events: [string, StoredDocument | undefined][] = [];
  return {
    events,
    listener: (key: string, doc: StoredDocument | undefined) => void events.push([key, doc]),
    until: (n: number) => waitFor(() => events.length >= n),
  };
}

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}
