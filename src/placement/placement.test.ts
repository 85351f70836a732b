import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../shared/clock.js';
import type { InvocationResult, WorkerAgent, WorkerStatus } from '../worker/index.js';
import { PlacementService } from './placement.js';

function worker(id: string, memoryMb: number, cachedCode: string[] = []): WorkerAgent & { shutdowns: number } {
  return {
    id, shutdowns: 0,
    createEnvironment: async () => {},
    invoke: async (): Promise<InvocationResult> => { throw new Error('unused'); },
    destroyEnvironment: async () => {},
    onEnvironmentLost: () => {},
    environments: async () => [],
    status: (): WorkerStatus => ({ id, memoryMb, memoryReservedMb: 0, environments: 0, cachedCode }),
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
