import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal, type Leadership } from '../journal/index.js';
import { PlacementService } from '../placement/index.js';
import { environmentKey } from '../registry/index.js';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/log.js';
import type { EnvironmentReport } from '../worker/index.js';
import { fakeFunction, FakeWorker } from '../../test/helpers/fake-worker.js';
import { AssignmentService } from './assignment.js';
import { EnvironmentTable, type EnvironmentEntry } from './environments.js';
import { destroyUnknown, surveyWorkers, TakeoverGrace } from './takeover.js';

function table(entries: [envId: string, workerId: string][], key = 'f'): EnvironmentTable {
  const t = new EnvironmentTable();
  entries.forEach(([envId, workerId], i) => t.apply(i + 1, {
    type: 'created', envId, key, functionArn: 'f', version: '$LATEST', workerId, memoryMb: 128, provisioned: false, atMs: 0,
  }));
  return t;
}

class SilentWorker extends FakeWorker {
  override async environments(): Promise<EnvironmentReport[]> {
    throw new Error('unreachable');
  }
}

describe('surveyWorkers', () => {
  it('fences every worker and sets what they run against the log: kept idle or busy, gone, or stray', async () => {
    const w1 = new FakeWorker('w1');
    const w2 = new FakeWorker('w2');
    w1.created.push('idle', 'busy');
    w1.busy.add('busy');
    w2.created.push('moved', 'stray');
    const plan = await surveyWorkers([w1, w2], table([['idle', 'w1'], ['busy', 'w1'], ['lost', 'w1'], ['moved', 'w1']]), 7, silentLogger());
    assert.deepEqual([w1.epoch, w2.epoch], [7, 7]);
    assert.deepEqual(plan.recorded.map(({ entry, fate }) => [entry.envId, fate]), [['idle', 'idle'], ['busy', 'busy'], ['lost', 'gone'], ['moved', 'gone']]);
    assert.deepEqual(plan.strays.map(({ worker, envId }) => [worker.id, envId]), [['w2', 'stray']]);
  });

  it('writes off the environments of a worker that does not answer', async () => {
    const plan = await surveyWorkers([new SilentWorker('w1')], table([['a', 'w1']]), 1, silentLogger());
    assert.deepEqual(plan.recorded.map(({ fate }) => fate), ['gone']);
    assert.deepEqual(plan.strays, []);
  });
});

describe('destroyUnknown', () => {
  it('destroys what a joining worker runs that the leader does not know, fencing it first', async () => {
    const worker = new FakeWorker('w1');
    worker.created.push('known', 'unknown');
    await destroyUnknown(worker, 3, (envId) => envId === 'known');
    assert.deepEqual([worker.destroyed, worker.epoch], [['unknown'], 3]);
  });
});

describe('TakeoverGrace', () => {
  const adopted = (key: string, busy: boolean): EnvironmentEntry => ({
    id: key, key, functionArn: key, version: '$LATEST', workerId: 'w1', memoryMb: 128, retired: false, provisioned: false,
    adoptedBusy: busy, state: busy ? { kind: 'busy' } : { kind: 'idle', sinceMs: 0 },
  });

  it('lets a cold start wait for a late release only for keys adopted busy, and only for the grace period', () => {
    const clock = new ManualClock();
    const grace = new TakeoverGrace(clock, 2000);
    const envs = [adopted('f', true), adopted('g', false)];
    assert.equal(grace.lateReleaseDeadline('f', envs), undefined, 'no takeover: no grace');
    grace.begin();
    const until = clock.now() + 2000;
    clock.advance(500);
    assert.equal(grace.lateReleaseDeadline('f', envs), until);
    assert.equal(grace.lateReleaseDeadline('g', envs), undefined);
    clock.advance(1500);
    assert.equal(grace.lateReleaseDeadline('f', envs), undefined);
  });
});

describe('a worker joining while a new leader takes over', () => {
  it('is reconciled only once the takeover has adopted what the log records: a busy environment is not mistaken for a stray', async () => {
    const clock = new ManualClock();
    const journal = new MemoryJournal();
    const placement = new PlacementService();
    const worker = new FakeWorker('w1');
    worker.created.push('recorded');
    worker.busy.add('recorded');
    const service = new AssignmentService({
      config: { keepAliveMs: 60_000, sweepIntervalMs: 1000, capacityWaitMs: 5000, scalingBurst: 1000, scalingWindowMs: 10_000, takeoverReleaseWaitMs: 2000 },
      log: journal.assignmentLog, placement, clock, logger: silentLogger(),
    });
    // The membership announces the worker (a heartbeat) before the takeover has surveyed it.
    placement.register(worker);
    const joined = service.workerJoined(worker);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(worker.destroyed, [], 'nothing is reconciled against a table not yet taken over');
    await service.takeOver(table([['recorded', 'w1']]));
    await joined;
    assert.deepEqual(worker.destroyed, [], 'the environment the log records stays, busy');
    service.abdicate();
  });
});

describe('releases that come back after a takeover', () => {
  const fn = fakeFunction('f');
  const leadership = (epoch: number): Leadership => ({
    candidate: { id: 'r2', address: 'http://r2' }, epoch, standing: () => 'held', lost: new Promise(() => {}), resign: async () => {},
  });
  async function tookOver(busyOnWorker: boolean) {
    const placement = new PlacementService();
    const worker = new FakeWorker('w1');
    worker.created.push('e1');
    if (busyOnWorker) worker.busy.add('e1');
    placement.register(worker);
    const service = new AssignmentService({
      config: { keepAliveMs: 60_000, sweepIntervalMs: 1000, capacityWaitMs: 5000, scalingBurst: 1000, scalingWindowMs: 10_000, takeoverReleaseWaitMs: 0 },
      log: new MemoryJournal().assignmentLog, placement, clock: new ManualClock(), logger: silentLogger(), leadership: leadership(5),
    });
    await service.takeOver(table([['e1', 'w1']], environmentKey(fn)));
    const state = () => service.snapshot().find((e) => e.id === 'e1')?.state.kind;
    return { service, state };
  }

  it("a late release of the previous leadership's grant does not free the environment this leadership granted again", async () => {
    const { service, state } = await tookOver(false);
    const lease = await service.acquire(fn);
    assert.deepEqual([lease.envId, lease.cold, lease.epoch], ['e1', false, 5]);
    service.release({ envId: 'e1', grant: 'a grant of the deposed leadership' }, true);
    assert.equal(state(), 'busy', 'still busy with the new grant: a third invoke must not be handed it');
    service.release(lease, true);
    assert.equal(state(), 'idle');
    service.abdicate();
  });

  it("the previous leadership's release of an environment adopted busy frees it", async () => {
    const { service, state } = await tookOver(true);
    assert.equal(state(), 'busy');
    service.release({ envId: 'e1', grant: 'a grant of the deposed leadership' }, true);
    assert.equal(state(), 'idle');
    service.abdicate();
  });
});
