import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Journal } from '../../src/journal/index.js';

/** The contract every Journal engine passes (SQLite, in-memory, later etcd). */
export function runJournalContract(name: string, newJournal: () => Promise<{ journal: Journal; cleanup(): Promise<void> }>): void {
  describe(`Journal contract: ${name}`, () => {
    const withJournal = (fn: (j: Journal) => Promise<void>) => async () => {
      const { journal, cleanup } = await newJournal();
      try {
        await fn(journal);
      } finally {
        await journal.close();
        await cleanup();
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
      assert.equal(await j.functions.delete('a'), true);
      assert.equal(await j.functions.delete('a'), false);
      assert.equal(await j.functions.get('a'), undefined);
    }));

    it('keeps each document collection apart, with its own revisions', withJournal(async (j) => {
      const stores = { functions: j.functions, versions: j.versions, aliases: j.aliases, functionUrls: j.functionUrls };
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

    it('appends log entries in order and truncates a prefix', withJournal(async (j) => {
      const s1 = await j.assignmentLog.append({ type: 'created', id: 1 });
      const s2 = await j.assignmentLog.append({ type: 'destroyed', id: 1 });
      assert.ok(s2 > s1);
      assert.deepEqual(await j.assignmentLog.readAfter(0), [
        { seq: s1, entry: { type: 'created', id: 1 } },
        { seq: s2, entry: { type: 'destroyed', id: 1 } },
      ]);
      assert.deepEqual((await j.assignmentLog.readAfter(s1)).map((e) => e.seq), [s2]);
      await j.assignmentLog.truncate(s1);
      assert.deepEqual((await j.assignmentLog.readAfter(0)).map((e) => e.seq), [s2]);
      const s3 = await j.assignmentLog.append({ type: 'created', id: 2 });
      assert.ok(s3 > s2, 'sequence numbers never go back after truncation');
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
        const results = await Promise.all([j.eventQueue.put(ev('a')), j.eventQueue.put(ev('b')), j.eventQueue.put(ev('a'))]);
        assert.deepEqual(results, [true, true, false]);
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
