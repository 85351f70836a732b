import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/log.js';
import { LogShipper, logStreamName, MAX_EVENT_BYTES, type LogBatch } from './log-shipper.js';

const A = { accountId: '111111111111', functionName: 'a', group: '/aws/lambda/a', stream: '2026/12/07/[$LATEST]0123' };
const B = { accountId: '222222222222', functionName: 'b', group: '/aws/lambda/b', stream: '2026/12/07/[$LATEST]4567' };

function shipper(opts: { fail?: () => boolean; maxBufferedBytes?: number } = {}) {
  const clock = new ManualClock();
  const shipped: LogBatch[] = [];
  const s = new LogShipper({
    clock, log: silentLogger(), flushAfterMs: 200, maxBufferedBytes: opts.maxBufferedBytes ?? 1 << 20,
    ship: async (batches) => {
      if (opts.fail?.()) throw new Error('store unreachable');
      shipped.push(...structuredClone(batches));
    },
  });
  return { s, clock, shipped, messages: (to = A) => shipped.filter((b) => b.stream === to.stream && b.accountId === to.accountId).flatMap((b) => b.events.map((e) => e.message)) };
}

describe('LogShipper', () => {
  test('cuts output into lines, one event each, and ships them per stream after flushAfterMs', async () => {
    const { s, clock, shipped, messages } = shipper();
    s.write(A, 'one\ntw', 'stdout');
    s.write(B, 'bee\n', 'stdout');
    clock.advance(50);
    s.write(A, 'o\nthree\n', 'stdout');
    assert.equal(shipped.length, 0, 'nothing ships before the flush delay');
    clock.advance(200);
    await s.flush();
    assert.deepEqual(messages(A), ['one', 'two', 'three']);
    assert.deepEqual(messages(B), ['bee']);
    const two = shipped.flatMap((b) => b.events).find((e) => e.message === 'two');
    assert.equal(two?.timestamp, clock.now() - 250, 'a line split across writes keeps the time it started');
  });

  test('a partial line is shipped on flush; an over-long line becomes several events of at most 256 KB', async () => {
    const { s, shipped, messages } = shipper();
    s.write(A, 'no newline', 'stdout');
    s.write(B, `${'x'.repeat(MAX_EVENT_BYTES * 2 + 10)}\n`, 'stdout');
    await s.flush();
    assert.deepEqual(messages(A), ['no newline']);
    assert.deepEqual(messages(B).map((m) => m.length), [MAX_EVENT_BYTES, MAX_EVENT_BYTES, 10]);
    assert.equal(shipped.every((b) => b.events.every((e) => Buffer.byteLength(e.message) <= MAX_EVENT_BYTES)), true);
  });

  test('an over-long line of multi-byte characters is cut between characters', async () => {
    const { s, messages } = shipper();
    s.write(A, `a${'é'.repeat(MAX_EVENT_BYTES)}\n`, 'stdout');
    await s.flush();
    const events = messages(A);
    assert.equal(events.join(''), `a${'é'.repeat(MAX_EVENT_BYTES)}`, 'nothing is lost or replaced');
    assert.ok(events.every((m) => Buffer.byteLength(m) <= MAX_EVENT_BYTES && !m.includes('\ufffd')));
  });

  test('keeps output while the store is unreachable and ships it with the next batch', async () => {
    let down = true;
    const { s, messages } = shipper({ fail: () => down });
    s.write(A, 'first\n', 'stdout');
    await s.flush();
    s.write(A, 'second\n', 'stdout');
    down = false;
    await s.flush();
    assert.deepEqual(messages(A), ['first', 'second']);
  });

  test('drops the oldest output beyond its buffer, and counts it', async () => {
    const { s, messages } = shipper({ fail: () => true, maxBufferedBytes: 230 });
    for (let i = 0; i < 20; i++) s.write(A, `${String(i).padStart(2, '0')}${'.'.repeat(18)}\n`, 'stdout');
    await s.flush();
    assert.equal(s.dropped, 15, 'only 230 bytes (5 lines of 20, each with its 26 bytes of overhead) are held');
    assert.deepEqual(messages(A), []);
  });

  test("assembles lines per source: a pipe's partial line never runs into another's, nor into a platform line", async () => {
    const { s, messages } = shipper();
    s.write(A, 'out-', 'stdout');
    s.write(A, 'err-', 'stderr');
    s.write(A, 'END RequestId: r1\n', 'platform');
    s.write(A, 'one\n', 'stdout');
    s.write(A, 'two\n', 'stderr');
    await s.flush();
    assert.deepEqual(messages(A), ['END RequestId: r1', 'out-one', 'err-two']);
  });

  test('a timed flush ships whole lines at once and a partial line only once it has waited flushAfterMs', async () => {
    const { s, clock, messages } = shipper();
    s.write(A, 'whole\n', 'stdout');
    clock.advance(100);
    s.write(A, 'part', 'stdout');
    clock.advance(100);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(messages(A), ['whole'], 'the partial line (100 ms old) waits for the rest of it');
    s.write(A, 'ial', 'stdout');
    clock.advance(200);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(messages(A), ['whole', 'partial'], 'then it is shipped as it is, with the time it began');
  });

  test('a flush during a slow shipment waits for everything written before it; requests stay bounded', async () => {
    const clock = new ManualClock();
    const requests: number[] = [];
    let release: () => void = () => {};
    const slow = new Promise<void>((resolve) => (release = resolve));
    const s = new LogShipper({
      clock, log: silentLogger(), flushAfterMs: 200, maxBufferedBytes: 64 << 20,
      ship: async (batches) => {
        requests.push(batches.reduce((n, b) => n + b.events.reduce((m, e) => m + e.message.length, 0), 0));
        if (requests.length === 1) await slow;
      },
    });
    s.write(A, 'first\n', 'stdout');
    clock.advance(200); // the timer's shipment starts, and hangs
    for (let i = 0; i < 5; i++) s.write(A, `${'y'.repeat(1024 * 1024)}\n`, 'stdout');
    const flushed = s.flush();
    release();
    await flushed;
    assert.equal(requests.reduce((a, b) => a + b, 0), 5 + 5 * 1024 * 1024, 'everything written before the flush was shipped');
    assert.ok(requests.every((n) => n <= 2 * 1024 * 1024), `requests of at most 2 MiB: ${requests.join(', ')}`);
  });

  test('a line written a byte at a time is one event, and a long one is cut at 256 KB as it grows', async () => {
    const { s, messages } = shipper();
    for (const c of 'one line\n') s.write(A, c, 'stdout');
    for (let i = 0; i < MAX_EVENT_BYTES + 10; i++) s.write(B, 'z', 'stderr');
    await s.flush();
    assert.deepEqual(messages(A), ['one line']);
    assert.deepEqual(messages(B).map((m) => m.length), [MAX_EVENT_BYTES, 10]);
  });

  test("while the store never answers, long lines from many streams keep the buffers' memory within twice the bound", async () => {
    const clock = new ManualClock();
    const bound = 16 << 20;
    const s = new LogShipper({ clock, log: silentLogger(), flushAfterMs: 200, maxBufferedBytes: bound, ship: () => new Promise<void>(() => {}) });
    const streams = Array.from({ length: 4 }, (_, i) => ({ ...A, stream: `${A.stream}-${i}` }));
    const line = `${'y'.repeat(250 * 1024)}\n`;
    let largest = 0;
    for (let tick = 0; tick < 150; tick++) {
      for (const to of streams) s.write(to, line, 'stdout');
      clock.advance(70);
      await new Promise<void>((resolve) => setImmediate(resolve));
      largest = Math.max(largest, s.bufferCapacity);
    }
    assert.ok(s.dropped > 0, 'the bound was reached');
    assert.ok(largest <= 2 * bound, `buffers reached ${(largest / (1 << 20)).toFixed(0)} MB for a bound of ${bound >> 20} MB`);
  });

  test('(attack) empty lines, which have no bytes, are bounded too while the store never answers: each counts its 26 bytes of overhead', async () => {
    const clock = new ManualClock();
    const bound = 1 << 20;
    const s = new LogShipper({ clock, log: silentLogger(), flushAfterMs: 200, maxBufferedBytes: bound, ship: () => new Promise<void>(() => {}) });
    const burst = '\n'.repeat(10_000);
    for (let tick = 0; tick < 50; tick++) {
      s.write(A, burst, 'stdout');
      clock.advance(70);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    assert.ok(s.dropped > 0, 'the bound was reached');
    assert.ok(s.waitingEvents <= bound / 26, `${s.waitingEvents} empty events wait for a bound of ${bound} bytes`);
  });

  test('requeues a very large number of events without failing', async () => {
    let down = true;
    const { s, messages } = shipper({ fail: () => down, maxBufferedBytes: 64 << 20 });
    for (let i = 0; i < 300_000; i++) s.write(A, 'x\n', 'stdout');
    await s.flush();
    down = false;
    await s.flush();
    assert.equal(messages(A).length, 300_000);
  });

  test('ships lines written faster than one request holds across several requests, whole, in order and with their characters', async () => {
    const { s, messages } = shipper({ maxBufferedBytes: 64 << 20 });
    const lines = Array.from({ length: 30_000 }, (_, i) => `${i} ${i % 7 === 0 ? 'été ü ñ 日本 🙂' : 'plain'} ${'.'.repeat(i % 150)}`);
    for (let i = 0; i < lines.length; i += 10) s.write(A, `${lines.slice(i, i + 10).join('\n')}\n`, 'stdout');
    s.write(A, 'part', 'stderr');
    await s.flush();
    assert.deepEqual(messages(A), [...lines, 'part']);
    for (let i = 0; i < 3_000; i++) s.write(A, `again ${i}\n`, i % 2 ? 'stdout' : 'platform');
    await s.flush();
    assert.deepEqual(messages(A).slice(lines.length + 1), Array.from({ length: 3_000 }, (_, i) => `again ${i}`));
  });

  test('names streams as Lambda does', () => {
    assert.match(logStreamName(Date.UTC(2026, 11, 7, 23, 59), '$LATEST', 'env-1'), /^2026\/12\/07\/\[\$LATEST\][0-9a-f]{32}$/);
    assert.notEqual(logStreamName(0, '3', 'env-1'), logStreamName(0, '3', 'env-2'));
  });
});
