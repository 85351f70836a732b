import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLogStore } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { silentLogger } from '../shared/log.js';
import { storeLogs } from './ingest.js';

const batch = (stream: string, message: string) => ({ accountId: '111111111111', group: '/aws/lambda/f', stream, events: [{ timestamp: 1, message }] });

describe('storeLogs', () => {
  test("drops a batch the store refuses for good, and stores the others' around it", async () => {
    const store = new MemoryLogStore();
    const refusing = Object.assign(Object.create(store) as MemoryLogStore, {
      append: (a: string, g: string, st: string, events: { timestamp: number; message: string }[], t: number) =>
        (st === 'poison' ? Promise.reject(new StratusError('RequestTooLarge', 'too large')) : store.append(a, g, st, events, t)),
    });
    await storeLogs(refusing, new ManualClock(), silentLogger())([batch('a', 'one'), batch('poison', 'x'), batch('b', 'two')]);
    const events = await store.events('111111111111', '/aws/lambda/f', { limit: 10 });
    assert.deepEqual(events?.map((e) => [e.stream, e.message]), [['a', 'one'], ['b', 'two']]);
  });

  test('a failure that may pass is thrown, for the worker to ship again', async () => {
    const store = new MemoryLogStore();
    const unavailable = Object.assign(Object.create(store) as MemoryLogStore, {
      append: () => Promise.reject(new StratusError('JournalUnavailable', 'etcd is away')),
    });
    await assert.rejects(storeLogs(unavailable, new ManualClock(), silentLogger())([batch('a', 'one')]), /etcd is away/);
  });
});
