import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLogStore } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { silentLogger } from '../shared/log.js';
import { LogShipper } from '../worker/index.js';
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

  test('after a failure that may pass, the worker ships again only the batches not yet stored (no duplicates)', async () => {
    const store = new MemoryLogStore();
    let failures = 1;
    const flaky = Object.assign(Object.create(store) as MemoryLogStore, {
      append: (a: string, g: string, st: string, events: { timestamp: number; message: string }[], t: number) =>
        (st === 'b' && failures-- > 0 ? Promise.reject(new StratusError('JournalUnavailable', 'etcd is away')) : store.append(a, g, st, events, t)),
    });
    const clock = new ManualClock();
    const shipper = new LogShipper({ ship: storeLogs(flaky, clock, silentLogger()), clock, log: silentLogger(), flushAfterMs: 200, maxBufferedBytes: 1 << 20 });
    const to = (stream: string) => ({ accountId: '111111111111', functionName: 'f', group: '/aws/lambda/f', stream });
    const [a, b, c] = [to('a'), to('b'), to('c')];
    shipper.write(a, 'one\n', 'stdout');
    shipper.write(b, 'two\n', 'stdout');
    shipper.write(c, 'three\n', 'stdout');
    await shipper.flush();
    assert.equal(failures, 0, 'the first shipment failed at b, after a was stored');
    await shipper.flush();
    const events = await store.events('111111111111', '/aws/lambda/f', { limit: 10 });
    assert.deepEqual(events?.map((e) => [e.stream, e.message]).sort(), [['a', 'one'], ['b', 'two'], ['c', 'three']]);
  });

  test('a failure that may pass is thrown, for the worker to ship again', async () => {
    const store = new MemoryLogStore();
    const unavailable = Object.assign(Object.create(store) as MemoryLogStore, {
      append: () => Promise.reject(new StratusError('JournalUnavailable', 'etcd is away')),
    });
    await assert.rejects(storeLogs(unavailable, new ManualClock(), silentLogger())([batch('a', 'one')]), /etcd is away/);
  });
});
