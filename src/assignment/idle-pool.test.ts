import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EnvironmentEntry, EnvironmentState } from './environments.js';
import { IdlePool, leastRecentlyUsedIdle } from './idle-pool.js';

function env(id: string, key: string, state: EnvironmentState, provisioned = false): EnvironmentEntry {
  return { id, key, functionArn: key, version: '$LATEST', workerId: 'w1', memoryMb: 128, state, retired: false, provisioned };
}

describe('IdlePool', () => {
  it('has() tells whether a key has an idle environment now, through pushes, pops and removals', () => {
    const pool = new IdlePool();
    assert.equal(pool.has('a'), false);
    pool.push({ id: 'e1', key: 'a' });
    pool.push({ id: 'e2', key: 'a' });
    assert.equal(pool.has('a'), true);
    assert.equal(pool.has('b'), false);
    assert.equal(pool.pop('a'), 'e2');
    assert.equal(pool.has('a'), true);
    pool.remove({ id: 'e1', key: 'a' });
    assert.equal(pool.has('a'), false, 'the last idle one removed');
    pool.push({ id: 'e2', key: 'a' });
    assert.equal(pool.pop('a'), 'e2');
    assert.equal(pool.has('a'), false, 'the last idle one taken (its stack stays, empty)');
  });

  it('hands out the most recently used environment of a key first, and never one of another key', () => {
    const pool = new IdlePool();
    pool.push(env('a1', 'a', { kind: 'idle', sinceMs: 1 }));
    pool.push(env('b1', 'b', { kind: 'idle', sinceMs: 2 }));
    pool.push(env('a2', 'a', { kind: 'idle', sinceMs: 3 }));
    assert.deepEqual([pool.pop('a'), pool.pop('a'), pool.pop('a')], ['a2', 'a1', undefined]);
    assert.equal(pool.pop('c'), undefined);
    assert.equal(pool.pop('b'), 'b1');
  });

  it('forgets a removed environment, keeping the order of the rest', () => {
    const pool = new IdlePool();
    for (const id of ['x1', 'x2', 'x3']) pool.push(env(id, 'x', { kind: 'idle', sinceMs: 0 }));
    pool.remove(env('x2', 'x', { kind: 'dead' }));
    pool.remove(env('y1', 'y', { kind: 'dead' }));
    assert.deepEqual([pool.pop('x'), pool.pop('x'), pool.pop('x')], ['x3', 'x1', undefined]);
  });

  it('removes from the top, the middle and the bottom of a deep stack, and a re-pushed environment is on top once', () => {
    const pool = new IdlePool();
    const idle = { kind: 'idle', sinceMs: 0 } as const;
    for (let i = 0; i < 500; i++) pool.push(env(`k${i}`, 'k', idle));
    pool.push(env('other', 'o', idle));
    const gone = new Set(['k499', 'k250', 'k0', 'k1', 'k498']);
    for (const id of gone) pool.remove(env(id, 'k', { kind: 'dead' }));
    pool.push(env('k7', 'k', idle));
    pool.push(env('k7', 'k', idle));
    assert.equal(pool.size, 500 - gone.size + 1);
    const order: string[] = [];
    for (let id = pool.pop('k'); id !== undefined; id = pool.pop('k')) order.push(id);
    const rest = Array.from({ length: 500 }, (_, i) => `k${499 - i}`).filter((id) => !gone.has(id) && id !== 'k7');
    assert.deepEqual(order, ['k7', ...rest]);
    assert.deepEqual([pool.size, pool.pop('o'), pool.size], [1, 'other', 0]);
    pool.push(env('k3', 'k', idle));
    assert.equal(pool.pop('k'), 'k3', 'an emptied key takes new environments');
  });

  it('a warm cycle (pop, push back) keeps the rest in order; one destroyed while busy is forgotten', () => {
    const pool = new IdlePool();
    const idle = { kind: 'idle', sinceMs: 0 } as const;
    for (const id of ['a', 'b', 'c']) pool.push(env(id, 'k', idle));
    for (let i = 0; i < 3; i++) {
      const id = pool.pop('k');
      assert.equal(id, 'c');
      pool.push(env('c', 'k', idle));
    }
    assert.equal(pool.pop('k'), 'c');
    pool.remove(env('c', 'k', { kind: 'dead' }));
    assert.equal(pool.size, 2);
    assert.deepEqual([pool.pop('k'), pool.pop('k'), pool.pop('k')], ['b', 'a', undefined]);
    pool.remove(env('a', 'k', { kind: 'dead' }));
    pool.remove(env('b', 'k', { kind: 'dead' }));
    assert.deepEqual([pool.size, pool.pop('k')], [0, undefined]);
  });
});

describe('leastRecentlyUsedIdle', () => {
  it('picks the environment idle the longest, never a busy or a provisioned one', () => {
    const envs = [
      env('busy', 'a', { kind: 'busy' }),
      env('provisioned', 'a', { kind: 'idle', sinceMs: 1 }, true),
      env('newer', 'b', { kind: 'idle', sinceMs: 30 }),
      env('older', 'c', { kind: 'idle', sinceMs: 20 }),
      env('booting', 'd', { kind: 'initializing' }),
    ];
    assert.equal(leastRecentlyUsedIdle(envs)?.id, 'older');
    assert.equal(leastRecentlyUsedIdle(envs.slice(0, 2)), undefined);
  });
});
