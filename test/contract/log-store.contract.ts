import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DAY_MS, type LogEventQuery, type LogStore, type NewLogEvent, type StoredLogEvent } from '../../src/journal/index.js';

export interface LogStoreUnderTest {
  logs: LogStore;
  /** Closes `logs` and opens the same storage again (a restart), where the engine is durable. */
  reopen?(): Promise<LogStore>;
  /** Another store on the same storage (another process's view), where the engine has one. */
  second?(): Promise<LogStore>;
  /** Closes whatever is open and removes the storage. */
  cleanup(): Promise<void>;
}

const A = '111111111111';
const B = '222222222222';
const G = '/aws/lambda/fn';
const T0 = 1_700_000_000_000;
/** A message that stores as exactly 100 bytes (74 + the 26 bytes of overhead). */
const m100 = (tag: string) => tag.padEnd(74, '.');
const ev = (timestamp: number, message: string): NewLogEvent => ({ timestamp, message });
const all = (extra: Partial<LogEventQuery> = {}): LogEventQuery => ({ limit: 10_000, ...extra });
const messages = (events: StoredLogEvent[] | undefined) => events?.map((e) => e.message);
const order = (a: StoredLogEvent, b: StoredLogEvent) => a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The contract every LogStore engine passes (in-memory, SQLite, etcd). */
export function runLogStoreContract(name: string, open: () => Promise<LogStoreUnderTest>): void {
  describe(`LogStore contract: ${name}`, () => {
    const withStore = (fn: (logs: LogStore, under: LogStoreUnderTest) => Promise<void>) => async () => {
      const under = await open();
      try {
        await fn(under.logs, under);
      } finally {
        await under.cleanup();
      }
    };

    it('creates a group once; a new group is empty; a missing one has no streams or events', withStore(async (logs) => {
      assert.equal(await logs.createGroup(A, G, T0), true);
      assert.equal(await logs.createGroup(A, G, T0 + 5), false);
      assert.deepEqual(await logs.groups(A), [{ name: G, creationTime: T0, storedBytes: 0 }]);
      assert.deepEqual(await logs.streams(A, G), []);
      assert.deepEqual(await logs.events(A, G, all()), []);
      assert.equal(await logs.streams(A, '/aws/lambda/none'), undefined);
      assert.equal(await logs.events(A, '/aws/lambda/none', all()), undefined);
    }));

    it("appendAll stores a shipment's appends to several streams, groups and accounts, each in order, and answers each", withStore(async (logs) => {
      const minute = 60_000;
      const answers = await logs.appendAll([
        { accountId: A, group: G, stream: 's1', events: [ev(T0 + 20, m100('a')), ev(T0 + 10, m100('b')), ev(T0 + minute + 5, m100('c'))] },
        { accountId: A, group: '/aws/lambda/other', stream: 's1', events: [ev(T0 + 1, 'é\nüñï')] },
        { accountId: B, group: G, stream: 's1', events: [ev(T0 + 2, m100('x'))] },
        { accountId: A, group: G, stream: 's2', events: [] },
        { accountId: A, group: G, stream: 's1', events: [ev(T0 + 15, m100('d'))] },
      ], T0 + 100);
      assert.deepEqual(answers, [undefined, undefined, undefined, undefined, undefined]);
      const events = await logs.events(A, G, all({ streams: ['s1'] }));
      assert.deepEqual(events?.map((e) => e.message.slice(0, 1)), ['b', 'd', 'a', 'c']);
      const appended = [...(events ?? [])].sort((a, b) => (a.id < b.id ? -1 : 1)).map((e) => e.message.slice(0, 1));
      assert.deepEqual(appended, ['a', 'b', 'c', 'd'], 'ids follow the order of the appends');
      assert.deepEqual(messages(await logs.events(A, '/aws/lambda/other', all())), ['é\nüñï']);
      assert.deepEqual(messages(await logs.events(B, G, all())), [m100('x')]);
      assert.deepEqual((await logs.streams(A, G))?.map((st) => [st.name, st.storedBytes]), [['s1', 400], ['s2', 0]]);
      assert.equal((await logs.groups(A)).find((g) => g.name === G)?.storedBytes, 400);
    }));

    it('an append creates its group and stream and records what it added', withStore(async (logs) => {
      await logs.append(A, G, 's1', [ev(T0 + 20, m100('a')), ev(T0 + 10, m100('b'))], T0 + 100);
      await logs.append(A, G, 's1', [ev(T0 + 30, m100('c'))], T0 + 200);
      await logs.append(A, G, 's0', [], T0 + 300);
      assert.deepEqual(await logs.groups(A), [{ name: G, creationTime: T0 + 100, storedBytes: 300 }]);
      assert.deepEqual(await logs.streams(A, G), [
        { name: 's0', creationTime: T0 + 300, storedBytes: 0 },
        { name: 's1', creationTime: T0 + 100, firstEventTimestamp: T0 + 10, lastEventTimestamp: T0 + 30, lastIngestionTime: T0 + 200, storedBytes: 300 },
      ]);
      const events = await logs.events(A, G, all());
      assert.deepEqual(events?.map((e) => [e.stream, e.timestamp, e.ingestionTime]), [['s1', T0 + 10, T0 + 100], ['s1', T0 + 20, T0 + 100], ['s1', T0 + 30, T0 + 200]]);
    }));

    it('orders by timestamp then id (append order), or the reverse; ids are unique and grow per stream', withStore(async (logs) => {
      await logs.append(A, G, 'x', [ev(T0 + 5, 'x1'), ev(T0 + 1, 'x2'), ev(T0 + 5, 'x3')], T0);
      await logs.append(A, G, 'y', [ev(T0 + 5, 'y1'), ev(T0 + 3, 'y2')], T0);
      await logs.append(A, G, 'x', [ev(T0 + 5, 'x4')], T0);
      const up = (await logs.events(A, G, all()))!;
      assert.deepEqual(messages(up), ['x2', 'y2', 'x1', 'x3', 'y1', 'x4']);
      assert.deepEqual(messages(await logs.events(A, G, all({ descending: true }))), ['x4', 'y1', 'x3', 'x1', 'y2', 'x2']);
      assert.equal(new Set(up.map((e) => e.id)).size, up.length, 'ids are unique in the group');
      const xs = ['x1', 'x2', 'x3', 'x4'].map((m) => up.find((e) => e.message === m)!.id);
      assert.deepEqual([...xs].sort(), xs, 'ids of one stream grow in append order');
      assert.ok(up.every((e) => typeof e.id === 'string'));
    }));

    it('selects a time window: start inclusive, end exclusive; limit counts', withStore(async (logs) => {
      await logs.append(A, G, 's', [10, 20, 30, 40, 50].map((t) => ev(T0 + t, `t${t}`)), T0);
      assert.deepEqual(messages(await logs.events(A, G, all({ startTime: T0 + 20, endTime: T0 + 40 }))), ['t20', 't30']);
      assert.deepEqual(messages(await logs.events(A, G, all({ startTime: T0 + 20, endTime: T0 + 40, descending: true }))), ['t30', 't20']);
      assert.deepEqual(messages(await logs.events(A, G, all({ startTime: T0 + 45 }))), ['t50']);
      assert.deepEqual(messages(await logs.events(A, G, all({ endTime: T0 + 10 }))), []);
      assert.deepEqual(messages(await logs.events(A, G, { limit: 2 })), ['t10', 't20']);
      assert.deepEqual(messages(await logs.events(A, G, { limit: 2, descending: true })), ['t50', 't40']);
    }));

    it('filters by stream names and by a stream name prefix', withStore(async (logs) => {
      for (const s of ['2024/a', '2024/b', '2025/a', 'other']) await logs.append(A, G, s, [ev(T0, s)], T0);
      assert.deepEqual(messages(await logs.events(A, G, all({ streams: ['2024/b', 'other', 'missing'] }))), ['2024/b', 'other']);
      assert.deepEqual(messages(await logs.events(A, G, all({ streamPrefix: '2024/' }))), ['2024/a', '2024/b']);
      assert.deepEqual(messages(await logs.events(A, G, all({ streamPrefix: '2024/', streams: ['2024/a', '2025/a'] }))), ['2024/a']);
      assert.deepEqual(messages(await logs.events(A, G, all({ streams: [] }))), []);
      assert.deepEqual(messages(await logs.events(A, G, all({ streamPrefix: 'nothing' }))), []);
    }));

    it('filters many streams at once, in the same order as a read of the whole group', withStore(async (logs) => {
      const names = Array.from({ length: 12 }, (_, i) => `s${String(i).padStart(2, '0')}`);
      for (const [i, s] of names.entries()) await logs.append(A, G, s, [ev(T0 + (i % 3), `${s}-1`), ev(T0 + 1, `${s}-2`)], T0);
      const whole = (await logs.events(A, G, all()))!;
      const picked = names.slice(1);
      const expected = whole.filter((e) => picked.includes(e.stream));
      assert.deepEqual(await logs.events(A, G, all({ streams: picked })), expected);
      assert.deepEqual(await logs.events(A, G, all({ streams: picked, descending: true, limit: 5 })), [...expected].reverse().slice(0, 5));
      assert.deepEqual(await logs.events(A, G, all({ streams: picked.slice(0, 2), limit: 3 })), whole.filter((e) => picked.slice(0, 2).includes(e.stream)).slice(0, 3));
    }));

    it('pages with `after`, across ties on timestamp, in both orders', withStore(async (logs) => {
      for (let batch = 0; batch < 5; batch++) {
        await logs.append(A, G, `s${batch % 2}`, Array.from({ length: 5 }, (_, i) => ev(T0 + ((batch * 5 + i) % 4), `m${batch}-${i}`)), T0);
      }
      for (const descending of [false, true]) {
        const whole = (await logs.events(A, G, all({ descending })))!;
        assert.equal(whole.length, 25);
        const paged: StoredLogEvent[] = [];
        for (;;) {
          const last = paged.at(-1);
          const page = (await logs.events(A, G, { limit: 7, descending, ...(last ? { after: { timestamp: last.timestamp, id: last.id } } : {}) }))!;
          paged.push(...page);
          if (page.length < 7) break;
        }
        assert.deepEqual(paged, whole, `paged ${descending ? 'descending' : 'ascending'}`);
        const sorted = [...whole].sort(order);
        assert.deepEqual(descending ? sorted.reverse() : sorted, whole);
      }
      const first = (await logs.events(A, G, all({ streams: ['s1'], limit: 3 })))!;
      const rest = await logs.events(A, G, all({ streams: ['s1'], after: { timestamp: first[2]!.timestamp, id: first[2]!.id } }));
      assert.deepEqual([...first, ...rest!], await logs.events(A, G, all({ streams: ['s1'] })));
    }));

    it('reads events spread over hours, appended out of order, by any window, page and stream', withStore(async (logs) => {
      let seed = 7;
      const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648);
      const spread = 3 * 60 * 60 * 1000;
      for (let batch = 0; batch < 12; batch++) {
        const events = Array.from({ length: 9 }, (_, i) => ev(T0 + (next() % spread), `b${batch}-${i}`));
        await logs.append(A, G, `s${batch % 3}`, events, T0 + batch);
      }
      const whole = (await logs.events(A, G, all()))!;
      assert.equal(whole.length, 108);
      assert.deepEqual(whole, [...whole].sort(order));
      for (const s of ['s0', 's1', 's2']) {
        const byId = whole.filter((e) => e.stream === s).sort((x, y) => (x.id < y.id ? -1 : 1)).map((e) => e.message);
        assert.deepEqual(byId, [...byId].sort((x, y) => x.localeCompare(y, 'en', { numeric: true })), `ids of ${s} follow the append order`);
      }
      for (let i = 0; i < 6; i++) {
        const [a, b] = [T0 + (next() % spread), T0 + (next() % spread)].sort((x, y) => x - y);
        const inWindow = whole.filter((e) => e.timestamp >= a! && e.timestamp < b!);
        assert.deepEqual(await logs.events(A, G, all({ startTime: a, endTime: b })), inWindow);
        assert.deepEqual(await logs.events(A, G, { startTime: a, endTime: b, limit: 4, descending: true }), [...inWindow].reverse().slice(0, 4));
        assert.deepEqual(await logs.events(A, G, all({ startTime: a, endTime: b, streams: ['s1'] })), inWindow.filter((e) => e.stream === 's1'));
      }
      for (const descending of [false, true]) {
        const paged: StoredLogEvent[] = [];
        for (let page: StoredLogEvent[] = [undefined as never]; page.length > 0;) {
          const last = paged.at(-1);
          page = (await logs.events(A, G, { limit: 5, descending, streams: ['s0', 's2'], ...(last ? { after: { timestamp: last.timestamp, id: last.id } } : {}) }))!;
          paged.push(...page);
        }
        const expected = whole.filter((e) => e.stream !== 's1');
        assert.deepEqual(paged, descending ? expected.reverse() : expected);
      }
    }));

    it('counts stored bytes as UTF-8 message bytes plus 26 per event; keeps unicode, newlines and empty messages', withStore(async (logs) => {
      const odd = ['héllo wörld ✓', '日本語のログ', 'emoji 🚀🔥', 'line one\nline two\r\n\ttabbed', '', '{"json":"quoted \\"x\\""}', '\u0000nul'];
      await logs.append(A, G, 's', odd.map((m, i) => ev(T0 + i, m)), T0);
      const expected = odd.reduce((sum, m) => sum + Buffer.byteLength(m) + 26, 0);
      assert.deepEqual(messages(await logs.events(A, G, all())), odd);
      assert.equal((await logs.groups(A))[0]?.storedBytes, expected);
      assert.equal((await logs.streams(A, G))?.[0]?.storedBytes, expected);
    }));

    it('stores a large append whole and in order', withStore(async (logs) => {
      const big = Array.from({ length: 300 }, (_, i) => ev(T0 + i, `${i}:`.padEnd(10_000, String.fromCharCode(97 + (i % 26)))));
      await logs.append(A, G, 's', big, T0);
      const back = (await logs.events(A, G, all()))!;
      assert.equal(back.length, 300);
      assert.ok(back.every((e, i) => e.message === big[i]!.message));
      assert.equal((await logs.groups(A))[0]?.storedBytes, 300 * 10_026);
    }));

    it('lists groups by name, with a name prefix', withStore(async (logs) => {
      for (const g of ['/aws/lambda/b', '/custom/x', '/aws/lambda/a']) await logs.createGroup(A, g, T0);
      assert.deepEqual((await logs.groups(A)).map((g) => g.name), ['/aws/lambda/a', '/aws/lambda/b', '/custom/x']);
      assert.deepEqual((await logs.groups(A, '/aws/lambda/')).map((g) => g.name), ['/aws/lambda/a', '/aws/lambda/b']);
      assert.deepEqual(await logs.groups(A, '/nothing'), []);
    }));

    it('sets and removes a retention', withStore(async (logs) => {
      assert.equal(await logs.setRetention(A, G, 7), false, 'no such group');
      await logs.createGroup(A, G, T0);
      assert.equal(await logs.setRetention(A, G, 7), true);
      assert.equal((await logs.groups(A))[0]?.retentionInDays, 7);
      assert.equal(await logs.setRetention(A, G, undefined), true);
      assert.deepEqual(await logs.groups(A), [{ name: G, creationTime: T0, storedBytes: 0 }]);
    }));

    it('expires events older than their group retention, by event timestamp', withStore(async (logs) => {
      const now = T0 + 10 * DAY_MS;
      await logs.append(A, G, 's', [ev(now - 3 * DAY_MS, m100('old')), ev(now - 2 * DAY_MS + 1, m100('young')), ev(now - 5 * DAY_MS, m100('older'))], now);
      await logs.append(A, '/kept', 's', [ev(now - 9 * DAY_MS, m100('no retention'))], now);
      await logs.setRetention(A, G, 2);
      assert.equal(await logs.expire(now, 1e12), 200);
      assert.deepEqual(messages(await logs.events(A, G, all())), [m100('young')]);
      assert.deepEqual(messages(await logs.events(A, '/kept', all())), [m100('no retention')]);
      assert.equal((await logs.groups(A, G))[0]?.storedBytes, 100);
      assert.equal((await logs.streams(A, G))?.[0]?.storedBytes, 100);
      assert.equal(await logs.expire(now, 1e12), 0, 'nothing more to expire');
    }));

    it('expires each account down to the byte cap, earliest-appended first, other accounts untouched', withStore(async (logs) => {
      await logs.append(A, G, 's1', [ev(T0 + 100, m100('a1'))], T0);
      await logs.append(A, '/g2', 's', [ev(T0 + 50, m100('a2')), ev(T0 + 60, m100('a3'))], T0);
      await logs.append(A, G, 's2', [ev(T0 + 10, m100('a4'))], T0);
      await logs.append(A, G, 's1', [ev(T0 + 5, m100('a5'))], T0);
      await logs.append(B, G, 's1', [0, 1].map((i) => ev(T0 + i, m100(`b${i}`))), T0);
      assert.equal(await logs.expire(T0, 250), 300, 'A drops three events to get from 500 to 200; B is at 200');
      assert.deepEqual(messages(await logs.events(A, G, all())), [m100('a5'), m100('a4')]);
      assert.deepEqual(messages(await logs.events(A, '/g2', all())), []);
      assert.deepEqual((await logs.groups(A)).map((g) => [g.name, g.storedBytes]), [['/aws/lambda/fn', 200], ['/g2', 0]]);
      assert.deepEqual((await logs.streams(A, G))?.map((s) => [s.name, s.storedBytes]), [['s1', 100], ['s2', 100]]);
      assert.equal((await logs.events(B, G, all()))?.length, 2);
      assert.equal(await logs.expire(T0, 150), 200, 'a cap below B drops B down too');
      assert.deepEqual(messages(await logs.events(A, G, all())), [m100('a5')]);
      assert.deepEqual(messages(await logs.events(B, G, all())), [m100('b1')]);
    }));

    it('deletes a group with everything in it', withStore(async (logs) => {
      await logs.append(A, G, 's', [ev(T0, 'x')], T0);
      await logs.append(A, '/other', 's', [ev(T0, 'y')], T0);
      assert.equal(await logs.deleteGroup(A, G), true);
      assert.equal(await logs.deleteGroup(A, G), false);
      assert.equal(await logs.events(A, G, all()), undefined);
      assert.deepEqual((await logs.groups(A)).map((g) => g.name), ['/other']);
      await logs.append(A, G, 's', [ev(T0, 'fresh')], T0 + 1);
      assert.deepEqual(messages(await logs.events(A, G, all())), ['fresh']);
      assert.equal((await logs.groups(A, G))[0]?.storedBytes, 5 + 26);
    }));

    it('deletes a stream with its events and takes them off the group', withStore(async (logs) => {
      await logs.append(A, G, 's1', [ev(T0, m100('one')), ev(T0 + 1, m100('two'))], T0);
      await logs.append(A, G, 's2', [ev(T0, m100('three'))], T0);
      assert.equal(await logs.deleteStream(A, G, 's1'), true);
      assert.equal(await logs.deleteStream(A, G, 's1'), false);
      assert.equal(await logs.deleteStream(A, '/none', 's2'), false);
      assert.deepEqual(messages(await logs.events(A, G, all())), [m100('three')]);
      assert.deepEqual((await logs.streams(A, G))?.map((s) => s.name), ['s2']);
      assert.equal((await logs.groups(A))[0]?.storedBytes, 100);
      await logs.append(A, G, 's1', [ev(T0 + 9, 'again')], T0 + 9);
      assert.deepEqual(messages(await logs.events(A, G, all({ streams: ['s1'] }))), ['again']);
    }));

    it('keeps accounts apart: the same group name in two accounts', withStore(async (logs) => {
      await logs.append(A, G, 's', [ev(T0, 'from A')], T0);
      await logs.append(B, G, 's', [ev(T0, 'from B')], T0);
      await logs.createGroup(B, '/only-b', T0);
      assert.deepEqual(messages(await logs.events(A, G, all())), ['from A']);
      assert.deepEqual((await logs.groups(A)).map((g) => g.name), [G]);
      await logs.setRetention(B, G, 1);
      assert.equal((await logs.groups(A))[0]?.retentionInDays, undefined);
      assert.equal(await logs.deleteStream(B, G, 's'), true);
      assert.deepEqual(messages(await logs.events(A, G, all())), ['from A']);
      assert.equal(await logs.deleteGroup(B, G), true);
      assert.deepEqual(messages(await logs.events(A, G, all())), ['from A']);
      assert.equal(await logs.events(B, G, all()), undefined);
      assert.equal(await logs.events('333333333333', G, all()), undefined);
    }));

    it('never mixes names that share a prefix or hold separators and escapes', withStore(async (logs) => {
      const groups = [G, `${G}2`, `${G}/x`, '/aws/lambda/fn%2Fx', '/a%25b', '/a%b'];
      for (const g of groups) for (const s of ['s', 's2', 's/1', 's%2F1']) await logs.append(A, g, s, [ev(T0, `${g}|${s}`)], T0);
      for (const g of groups) {
        assert.deepEqual((await logs.events(A, g, all()))!.map((e) => e.message).sort(), [`${g}|s`, `${g}|s%2F1`, `${g}|s/1`, `${g}|s2`].sort());
        assert.deepEqual(messages(await logs.events(A, g, all({ streams: ['s'] }))), [`${g}|s`]);
        assert.deepEqual(messages(await logs.events(A, g, all({ streamPrefix: 's/' }))), [`${g}|s/1`]);
      }
      assert.deepEqual((await logs.groups(A, G)).map((g) => g.name), [G, `${G}%2Fx`, `${G}/x`, `${G}2`]);
      assert.deepEqual((await logs.groups(A, '/a%')).map((g) => g.name), ['/a%25b', '/a%b']);
      assert.equal(await logs.deleteStream(A, G, 's'), true);
      assert.deepEqual((await logs.streams(A, G))?.map((s) => s.name), ['s%2F1', 's/1', 's2']);
      assert.equal(await logs.deleteGroup(A, G), true);
      assert.equal(await logs.deleteGroup(A, '/a%b'), true);
      for (const g of [`${G}2`, `${G}/x`, '/aws/lambda/fn%2Fx', '/a%25b']) assert.equal((await logs.events(A, g, all()))?.length, 4, g);
    }));

    it('keeps everything across a restart', withStore(async (logs, under) => {
      if (!under.reopen) return;
      await logs.append(A, G, 's', [ev(T0 + 1, 'kept ✓'), ev(T0 + 2, '')], T0 + 10);
      await logs.setRetention(A, G, 30);
      const before = await logs.events(A, G, all());
      const again = await under.reopen();
      assert.deepEqual(await again.events(A, G, all()), before);
      assert.deepEqual(await again.groups(A), [{ name: G, creationTime: T0 + 10, retentionInDays: 30, storedBytes: Buffer.byteLength('kept ✓') + 26 + 26 }]);
      await again.append(A, G, 's', [ev(T0 + 2, 'after')], T0 + 20);
      const ids = (await again.events(A, G, all()))!.map((e) => e.id);
      assert.equal(new Set(ids).size, 3);
      assert.ok(ids[2]! > ids[1]!, 'ids keep growing after a restart');
    }));

    it('counts every event when two processes append to one stream at once', withStore(async (logs, under) => {
      if (!under.second) return;
      const other = await under.second();
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? logs : other).append(A, G, 's', [ev(T0 + i, m100(`e${i}`)), ev(T0 + i, m100(`f${i}`))], T0)));
      const seen = (await other.events(A, G, all()))!;
      assert.equal(seen.length, 40);
      assert.equal(new Set(seen.map((e) => e.id)).size, 40);
      assert.equal((await logs.groups(A))[0]?.storedBytes, 4000);
      assert.equal((await other.streams(A, G))?.[0]?.storedBytes, 4000);
      for (let i = 0; i < 20; i++) {
        const [e, f] = [seen.find((x) => x.message === m100(`e${i}`))!, seen.find((x) => x.message === m100(`f${i}`))!];
        assert.ok(e.id < f.id, 'events of one append keep their order');
      }
    }));
  });
}
