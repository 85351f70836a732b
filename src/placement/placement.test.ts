import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../shared/clock.js';
import type { InvocationResult, WorkerAgent, WorkerStatus } from '../worker/index.js';
import { PlacementService } from './placement.js';

function worker(id: string, memoryMb: number, cachedCode: string[] = [], zone?: string): WorkerAgent & { shutdowns: number } {
  return {
    id, shutdowns: 0,
    createEnvironment: async () => {},
    invoke: async (): Promise<InvocationResult> => { throw new Error('unused'); },
    destroyEnvironment: async () => {},
    onEnvironmentLost: () => {},
    environments: async () => [],
    status: (): WorkerStatus => ({ id, memoryMb, memoryReservedMb: 0, environments: 0, cachedCode, ...(zone ? { zone } : {}) }),
    async shutdown() { this.shutdowns++; },
  };
}

describe('PlacementService', () => {
  it('prefers a worker that has the code cached, then the one with the most room', () => {
    const p = new PlacementService();
    p.register(worker('a', 1024));
    p.register(worker('b', 2048));
    p.register(worker('c', 512, ['abc']));
    assert.equal(p.place({ memoryMb: 128, codeSha256: 'abc' })?.id, 'c');
    assert.equal(p.place({ memoryMb: 128, codeSha256: 'zzz' })?.id, 'b');
  });

  it('never places beyond a worker\'s memory, and counts releases', () => {
    const p = new PlacementService();
    p.register(worker('a', 256));
    assert.equal(p.place({ memoryMb: 128, codeSha256: 'x' })?.id, 'a');
    assert.equal(p.place({ memoryMb: 128, codeSha256: 'x' })?.id, 'a');
    assert.equal(p.place({ memoryMb: 128, codeSha256: 'x' }), undefined);
    p.release('a', 128);
    assert.equal(p.place({ memoryMb: 128, codeSha256: 'x' })?.id, 'a');
  });

  it('a drained worker that registers again (restarted, or adopted anew) stays drained', () => {
    const p = new PlacementService();
    p.register(worker('a', 1024));
    p.setDraining('a', true);
    p.register(worker('a', 1024));
    assert.equal(p.place({ memoryMb: 128, codeSha256: 'x' }), undefined);
  });

  it('spreads one function\'s environments across zones before it prefers cached code or room', () => {
    const p = new PlacementService();
    p.register(worker('a1', 4096, ['code'], 'zone-a'));
    p.register(worker('a2', 4096, [], 'zone-a'));
    p.register(worker('b1', 1024, [], 'zone-b'));
    const zones = (group: string, n: number) => Array.from({ length: n }, () => p.zoneOf(p.place({ memoryMb: 128, codeSha256: 'code', group })?.id ?? '')).join(',');
    // a1 has the code and the most room, yet every second environment of fn goes to zone-b.
    assert.equal(zones('fn', 4), 'zone-a,zone-b,zone-a,zone-b');
    // Another function is counted on its own: it starts again in the zone with the code.
    assert.equal(zones('other', 1), 'zone-a');
    // Released environments count no more: zone-b has fewer of fn again, so it is chosen.
    p.release('a1', 128, 'fn');
    p.release('a1', 128, 'fn');
    assert.equal(zones('fn', 1), 'zone-a');
    // Adopted environments (of an earlier assignment leader) count too.
    p.reserve('b1', 128, 'g');
    assert.equal(zones('g', 1), 'zone-a');
  });

  it('places in the crowded zone when no worker of the other zone has room, and without a group ignores zones', () => {
    const p = new PlacementService();
    p.register(worker('a', 4096, [], 'zone-a'));
    p.register(worker('b', 256, [], 'zone-b'));
    assert.deepEqual([1, 2, 3, 4].map(() => p.place({ memoryMb: 128, codeSha256: 'x', group: 'fn' })?.id), ['a', 'b', 'a', 'b']);
    assert.equal(p.place({ memoryMb: 128, codeSha256: 'x', group: 'fn' })?.id, 'a', 'zone-b is full');
    assert.equal(p.place({ memoryMb: 128, codeSha256: 'x' })?.id, 'a', 'no group: the least loaded');
    assert.equal(p.zoneOf('a'), 'zone-a');
    p.register(worker('c', 256));
    assert.equal(p.zoneOf('c'), 'zone-a', 'a worker that reports no zone is in the default one');
  });

  it('drops a remote worker whose lease is not renewed, and says so', () => {
    const clock = new ManualClock();
    const p = new PlacementService({ clock, leaseMs: 3000 });
    const lost: string[] = [];
    p.onWorkerLost((id) => lost.push(id));
    const remote = worker('remote', 1024);
    p.register(worker('local', 1024));
    p.register(remote, { leased: true });
    clock.advance(2000);
    assert.equal(p.renew('remote'), true);
    clock.advance(2500);
    assert.deepEqual(lost, [], 'renewed in time');
    clock.advance(1000);
    assert.deepEqual(lost, ['remote']);
    assert.equal(p.worker('remote'), undefined);
    assert.equal(remote.shutdowns, 1);
    assert.ok(p.worker('local'), 'the in-process worker holds no lease');
    assert.equal(p.renew('remote'), false, 'a lost worker must register again');
    p.stop();
  });
});
