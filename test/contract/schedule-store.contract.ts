import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventQueue, ScheduleStore, ScheduleWrite } from '../../src/journal/index.js';

/** The schedules and the event queue of one journal (firing writes to both). */
export interface ScheduleJournal {
  schedules: ScheduleStore;
  eventQueue: EventQueue;
}

export interface ScheduleStoreUnderTest {
  journal: ScheduleJournal;
  /** Closes the journal and opens the same storage again (a restart), where the engine is durable. */
  reopen?(): Promise<ScheduleJournal>;
  /** Another journal on the same storage (another process), where the engine has one. */
  second?(): Promise<ScheduleJournal>;
  cleanup(): Promise<void>;
}

const A = '111111111111';
const B = '222222222222';
const w = (revision: string, dueAtMs?: number, value: unknown = { revision }): ScheduleWrite => ({ value, revision, ...(dueAtMs === undefined ? {} : { dueAtMs }) });
const ev = (id: string, dueAtMs = 0) => ({ id, dueAtMs, value: { id } });
const keys = (items: { key: string }[]) => items.map((i) => i.key);
const queued = async (q: EventQueue) => (await q.claim('check', Number.MAX_SAFE_INTEGER / 2, 1, 1000)).map((e) => e.id).sort();

/** The contract every ScheduleStore engine passes (in-memory, SQLite, etcd). */
export function runScheduleStoreContract(name: string, open: () => Promise<ScheduleStoreUnderTest>): void {
  describe(`ScheduleStore contract: ${name}`, () => {
    const withStore = (fn: (j: ScheduleJournal, under: ScheduleStoreUnderTest) => Promise<void>) => async () => {
      const under = await open();
      try {
        await fn(under.journal, under);
      } finally {
        await under.cleanup();
      }
    };

    it('creates once, replaces and deletes only at the expected revision, lists by prefix', withStore(async ({ schedules }) => {
      assert.equal(await schedules.create(`${A}/default/s1`, w('r1', 100)), true);
      assert.equal(await schedules.create(`${A}/default/s1`, w('r9', 5)), false);
      assert.equal(await schedules.create(`${A}/default/s2`, w('q1')), true);
      assert.equal(await schedules.create(`${A}/other/s1`, w('p1', 50)), true);
      assert.equal(await schedules.create(`${B}/default/s1`, w('b1', 10)), true);
      assert.deepEqual(await schedules.get(`${A}/default/s1`), { key: `${A}/default/s1`, value: { revision: 'r1' }, revision: 'r1', dueAtMs: 100 });
      assert.deepEqual(await schedules.get(`${A}/default/s2`), { key: `${A}/default/s2`, value: { revision: 'q1' }, revision: 'q1' });
      assert.deepEqual(keys(await schedules.list(`${A}/`)), [`${A}/default/s1`, `${A}/default/s2`, `${A}/other/s1`]);
      assert.deepEqual(keys(await schedules.list(`${A}/default/`)), [`${A}/default/s1`, `${A}/default/s2`]);
      assert.deepEqual(keys(await schedules.list(`${B}/`)), [`${B}/default/s1`]);
      assert.equal(await schedules.replace(`${A}/default/s1`, w('r2', 200), 'r0'), false);
      assert.equal(await schedules.replace(`${A}/default/s1`, w('r2', 200), 'r1'), true);
      assert.equal((await schedules.get(`${A}/default/s1`))?.dueAtMs, 200);
      assert.equal(await schedules.replace(`${A}/missing/x`, w('r2'), 'r1'), false);
      assert.equal(await schedules.delete(`${A}/default/s1`, 'r1'), false);
      assert.equal(await schedules.delete(`${A}/default/s1`, 'r2'), true);
      assert.equal(await schedules.delete(`${A}/default/s1`), false);
      assert.equal(await schedules.get(`${A}/default/s1`), undefined);
      assert.equal(await schedules.delete(`${A}/default/s2`), true);
    }));

    it('finds due schedules earliest first, follows their changes, and never those without a due time', withStore(async ({ schedules }) => {
      await schedules.create(`${A}/g/late`, w('1', 300));
      await schedules.create(`${A}/g/early`, w('1', 100));
      await schedules.create(`${B}/g/mid`, w('1', 200));
      await schedules.create(`${A}/g/never`, w('1'));
      assert.deepEqual(keys(await schedules.due(99, 10)), []);
      assert.deepEqual(keys(await schedules.due(200, 10)), [`${A}/g/early`, `${B}/g/mid`]);
      assert.deepEqual(keys(await schedules.due(1000, 2)), [`${A}/g/early`, `${B}/g/mid`]);
      await schedules.replace(`${A}/g/early`, w('2', 500), '1');
      await schedules.replace(`${B}/g/mid`, w('2'), '1');
      await schedules.delete(`${A}/g/late`);
      assert.deepEqual(keys(await schedules.due(1000, 10)), [`${A}/g/early`]);
      assert.deepEqual(keys(await schedules.due(499, 10)), []);
    }));

    it('fires atomically: the schedule advances and the event is queued, once per revision', withStore(async ({ schedules, eventQueue }) => {
      await schedules.create(`${A}/g/s`, w('r1', 100));
      assert.equal(await schedules.fire(`${A}/g/s`, 'r1', w('r2', 160), ev('fire-100', 100)), true);
      assert.equal(await schedules.fire(`${A}/g/s`, 'r1', w('r2b', 160), ev('fire-100-again', 100)), false, 'a second firing of the same due time');
      assert.deepEqual(await schedules.get(`${A}/g/s`), { key: `${A}/g/s`, value: { revision: 'r2' }, revision: 'r2', dueAtMs: 160 });
      assert.deepEqual(keys(await schedules.due(159, 10)), []);
      assert.equal(await schedules.fire(`${A}/g/missing`, 'r1', w('x', 1), ev('nothing')), false);
      // The last firing deletes the schedule (ActionAfterCompletion DELETE) or leaves it without a due time.
      assert.equal(await schedules.fire(`${A}/g/s`, 'r2', undefined, ev('fire-160', 160)), true);
      assert.equal(await schedules.get(`${A}/g/s`), undefined);
      assert.deepEqual(await queued(eventQueue), ['fire-100', 'fire-160']);
      const [item] = await eventQueue.claim('c2', Number.MAX_SAFE_INTEGER / 2, 1, 1);
      assert.equal(item, undefined, 'claimed above');
      await schedules.create(`${A}/g/t`, w('t1', 5));
      assert.equal(await schedules.fire(`${A}/g/t`, 't1', w('t2'), ev('fire-t', 5)), true);
      assert.deepEqual(await schedules.get(`${A}/g/t`), { key: `${A}/g/t`, value: { revision: 't2' }, revision: 't2' });
      assert.deepEqual(await schedules.due(Number.MAX_SAFE_INTEGER, 10), []);
    }));

    it('of concurrent firings of one due time, exactly one commits', withStore(async ({ schedules, eventQueue }, under) => {
      const other = under.second ? (await under.second()).schedules : schedules;
      await schedules.create(`${A}/g/race`, w('r1', 10));
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? other : schedules).fire(`${A}/g/race`, 'r1', w(`r2-${i}`, 20), ev(`race-${i}`, 10))));
      assert.equal(results.filter(Boolean).length, 1, `results ${results.join(',')}`);
      const winner = results.indexOf(true);
      assert.deepEqual(await queued(eventQueue), [`race-${winner}`]);
      assert.equal((await other.get(`${A}/g/race`))?.revision, `r2-${winner}`);
    }));

    it('keeps schedules, due times and fired events across a restart', withStore(async ({ schedules }, under) => {
      if (!under.reopen) return;
      await schedules.create(`${A}/g/kept`, w('r1', 100));
      await schedules.fire(`${A}/g/kept`, 'r1', w('r2', 200), ev('kept-100', 100));
      const again = await under.reopen();
      assert.deepEqual(await again.schedules.get(`${A}/g/kept`), { key: `${A}/g/kept`, value: { revision: 'r2' }, revision: 'r2', dueAtMs: 200 });
      assert.deepEqual(keys(await again.schedules.due(250, 10)), [`${A}/g/kept`]);
      assert.equal(await again.schedules.fire(`${A}/g/kept`, 'r1', w('r3', 300), ev('kept-100-again', 100)), false);
      assert.deepEqual(await queued(again.eventQueue), ['kept-100']);
    }));
  });
}
