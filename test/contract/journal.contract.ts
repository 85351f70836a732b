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
