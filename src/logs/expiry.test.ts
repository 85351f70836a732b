import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DAY_MS, MemoryLogStore, type LogStore } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/log.js';
import { LogExpiry } from './expiry.js';

const A = '111111111111';
const G = '/aws/lambda/fn';
const message = (tag: string) => tag.padEnd(74, '.'); // 100 bytes stored

describe('LogExpiry', () => {
  it('sweeps on its clock: past retention, then down to the cap, earliest-appended first', async () => {
    const clock = new ManualClock();
    const store = new MemoryLogStore();
    const expiry = new LogExpiry({ store, clock, maxBytesPerAccount: 250, intervalMs: 60_000, log: silentLogger() });
    const t = clock.now();
    await store.append(A, G, 's', [{ timestamp: t - 2 * DAY_MS, message: message('stale') }], t);
    await store.append(A, G, 's', ['a', 'b', 'c'].map((m) => ({ timestamp: t, message: message(m) })), t);
    await store.setRetention(A, G, 1);
    expiry.start();
    clock.advance(59_999);
    await expiry.idle();
    assert.equal((await store.events(A, G, { limit: 10 }))?.length, 4, 'nothing before the interval');
    clock.advance(1);
    await expiry.idle();
    assert.deepEqual((await store.events(A, G, { limit: 10 }))?.map((e) => e.message), [message('b'), message('c')]);
    await store.append(A, G, 's', [{ timestamp: clock.now(), message: message('d') }], clock.now());
    clock.advance(60_000);
    await expiry.idle();
    assert.deepEqual((await store.events(A, G, { limit: 10 }))?.map((e) => e.message), [message('c'), message('d')], 'it keeps sweeping');
    await expiry.stop();
    await store.append(A, G, 's', [{ timestamp: clock.now(), message: message('e') }], clock.now());
    clock.advance(10 * 60_000);
    await expiry.idle();
    assert.equal((await store.events(A, G, { limit: 10 }))?.length, 3, 'a stopped expiry sweeps no more');
  });

  it('never runs two sweeps at once, and tries again after a failure', async () => {
    const clock = new ManualClock();
    const calls: { now: number; cap: number }[] = [];
    let release: (() => void) | undefined;
    let fail = false;
    const store = {
      expire: (now: number, cap: number) => {
        calls.push({ now, cap });
        if (fail) return Promise.reject(new Error('journal down'));
        return new Promise<number>((resolve) => (release = () => resolve(7)));
      },
    } as unknown as LogStore;
    const expiry = new LogExpiry({ store, clock, maxBytesPerAccount: 99, intervalMs: 1000, log: silentLogger() });
    expiry.start();
    clock.advance(1000);
    assert.equal(await expiry.sweep(), 0, 'a sweep asked for while one runs does not start');
    clock.advance(5000);
    assert.deepEqual(calls, [{ now: clock.now() - 5000, cap: 99 }], 'the next interval starts only after the running sweep');
    release!();
    await expiry.idle();
    fail = true;
    await Promise.resolve();
    clock.advance(1000);
    await expiry.idle();
    assert.equal(calls.length, 2);
    fail = false;
    clock.advance(1000);
    assert.equal(calls.length, 3, 'a failed sweep is tried again at the next interval');
    release!();
    await expiry.stop();
  });
});
