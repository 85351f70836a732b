import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../shared/clock.js';
import { CapacityQueue } from './capacity-queue.js';

const settle = () => new Promise((r) => setImmediate(r));

describe('CapacityQueue', () => {
  it('refuses a waiter at its deadline with TooManyRequests, not a moment before', async () => {
    const clock = new ManualClock();
    const queue = new CapacityQueue<string>(clock);
    let settled = false;
    const waiting = queue.wait('f', clock.now() + 5000).finally(() => (settled = true));
    clock.advance(4999);
    await settle();
    assert.equal(settled, false);
    clock.advance(1);
    await assert.rejects(waiting, { code: 'TooManyRequests', details: { Reason: 'ConcurrentInvocationLimitExceeded' } });
  });

  it('hands an environment to the oldest waiter of its key only, granting it only then', async () => {
    const clock = new ManualClock();
    const queue = new CapacityQueue<string>(clock);
    const g = queue.wait('g', clock.now() + 5000);
    const f1 = queue.wait('f', clock.now() + 5000);
    const f2 = queue.wait('f', clock.now() + 5000);
    let grants = 0;
    assert.equal(queue.handOver('h', () => `h${++grants}`), false);
    assert.equal(grants, 0, 'no waiter of that key: nothing granted');
    assert.equal(queue.handOver('f', () => `f${++grants}`), true);
    assert.equal(await f1, 'f1');
    queue.wakeOne();
    assert.equal(await g, undefined, 'woken to try placing again');
    clock.advance(5000);
    await assert.rejects(f2, { code: 'TooManyRequests' });
  });

  it('a woken waiter\'s timer is cancelled, and failAll refuses the rest with their own errors', async () => {
    const clock = new ManualClock();
    const queue = new CapacityQueue<string>(clock);
    const woken = queue.wait('f', clock.now() + 1000);
    const a = queue.wait('f', clock.now() + 1000);
    const b = queue.wait('g', clock.now() + 1000);
    queue.wakeOne();
    assert.equal(await woken, undefined);
    const errors: Error[] = [];
    queue.failAll(() => { const err = new Error('not leader'); errors.push(err); return err; });
    await assert.rejects(a, (err) => err === errors[0]);
    await assert.rejects(b, (err) => err === errors[1]);
    clock.advance(1000);
    queue.wakeOne();
  });

  it('a worker that joined wakes the oldest waiters that fit in its memory together, no others', async () => {
    const clock = new ManualClock();
    const queue = new CapacityQueue<string>(clock);
    const woken: string[] = [];
    for (const [name, mb] of [['a', 512], ['b', 768], ['c', 512], ['d', 128]] as const) void queue.wait(name, clock.now() + 5000, mb).then(() => woken.push(name), () => undefined);
    queue.wakeWithin(1024);
    await settle();
    assert.deepEqual(woken, ['a', 'c'], 'b (768 MB) no longer fits beside a; d does not fit beside a and c');
    queue.failAll(() => new Error('stop'));
  });
});
