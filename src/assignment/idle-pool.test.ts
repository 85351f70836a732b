import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EnvironmentEntry, EnvironmentState } from './environments.js';
import { IdlePool, leastRecentlyUsedIdle } from './idle-pool.js';

function env(id: string, key: string, state: EnvironmentState, provisioned = false): EnvironmentEntry {
  return { id, key, functionArn: key, version: '$LATEST', workerId: 'w1', memoryMb: 128, state, retired: false, provisioned };
}

describe('IdlePool', () => {
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
