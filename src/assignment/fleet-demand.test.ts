// Assignment's part in scaling the fleet, on the manual clock: the demand it counts for the
// placement leader (cold starts that found no room a new worker could give), carried through the
// journal's demand document to a FleetScaler; and no grant on a worker being drained.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal } from '../journal/index.js';
import { announceWorkerSize, FleetDemandPublisher, FleetDemandReader, FleetScaler, FleetWorkerSize, PlacementService, type ProvidedWorker, type WorkerProvider } from '../placement/index.js';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/log.js';
import { fakeFunction as fn, FakeWorker } from '../../test/helpers/fake-worker.js';
import { AssignmentService } from './assignment.js';
import { ConcurrencyLimiter } from './concurrency-limiter.js';

const CONFIG = { keepAliveMs: 60_000, sweepIntervalMs: 1000, capacityWaitMs: 5000, scalingBurst: 1000, scalingWindowMs: 10_000, takeoverReleaseWaitMs: 2000 };
const settle = () => new Promise((r) => setImmediate(r));

async function setup(opts: { workers?: [string, number][]; accountLimit?: number; newWorkerMb?: number } = {}) {
  const clock = new ManualClock();
  const journal = new MemoryJournal();
  const placement = new PlacementService();
  const workers = new Map((opts.workers ?? [['w1', 256]]).map(([id, mb]) => [id, new FakeWorker(id, mb)]));
  for (const w of workers.values()) placement.register(w);
  const assignment = new AssignmentService({
    config: CONFIG, log: journal.assignmentLog, placement, clock, logger: silentLogger(),
    limiter: new ConcurrencyLimiter({ accountLimit: () => opts.accountLimit ?? 1000, reservedFor: () => undefined, reservedTotal: () => 0 }),
    ...(opts.newWorkerMb === undefined ? {} : { newWorkerMb: () => opts.newWorkerMb }),
  });
  await assignment.start();
  return { clock, journal, placement, workers, assignment };
}

/** A provider that only records the workers it is asked to start. */
class RecordingProvider implements WorkerProvider {
  readonly kind = 'recording';
  readonly canScale = true;
  readonly started: ProvidedWorker[] = [];
  async start(spec: { zone: string }): Promise<ProvidedWorker> {
    const w = { id: `new-${this.started.length + 1}`, zone: spec.zone };
    this.started.push(w);
    return w;
  }
  async stop(): Promise<void> {}
  list(): ProvidedWorker[] {
    return this.started;
  }
  async close(): Promise<void> {}
}

/**
 * The whole path on one manual clock: the assignment leader's publisher writes its count to the
 * journal's demand document, the placement leader's scaler reads it at each look. Reserved memory
 * is reported low, so only demand can make it scale out.
 */
function demandPath(s: Awaited<ReturnType<typeof setup>>, maxWorkers = 4, minWorkers = 1) {
  const store = s.journal.functions; // any document store of a journal does
  const log = silentLogger();
  const publisher = new FleetDemandPublisher({ store, epoch: 1, read: () => s.assignment.demand.read(), clock: s.clock, intervalMs: 1000, log });
  const reader = new FleetDemandReader(store, log);
  const provider = new RecordingProvider();
  const scaler = new FleetScaler(
    { minWorkers, maxWorkers, scaleOutAbove: 0.75, scaleInBelow: 0.25, sustainMs: 3000, intervalMs: 1000, joinTimeoutMs: 600_000, drainMaxMs: 60_000, zones: ['a'] },
    {
      provider, clock: s.clock, log, unplaced: () => reader.unplaced(),
      members: () => [...s.workers.values()].map((w) => ({ id: w.id, memoryMb: w.status().memoryMb, reservedMb: 0, environments: 0, busy: 0 })),
      setDraining: () => undefined, removed: () => undefined,
    },
  );
  /** Seconds pass: each second the publisher writes, then the scaler looks. */
  const pass = async (seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      s.clock.advance(1000);
      await settle();
      await publisher.publish();
      await scaler.tick();
    }
  };
  return { provider, pass, publisher, reader };
}

describe('demand for the fleet (assignment → placement)', () => {
  it('counts a cold start that waits for room, and again at every reading while it waits; not one that found room', async () => {
    const { clock, assignment } = await setup();
    await assignment.acquire(fn('f'));
    await assignment.acquire(fn('f'));
    assert.equal(assignment.demand.read(), 0, 'both found room');
    const third = assignment.acquire(fn('f'));
    await settle();
    assert.equal(assignment.demand.read(), 2, 'counted when it began waiting, and waiting at this reading');
    assert.equal(assignment.demand.read(), 3, 'still waiting');
    clock.advance(5000);
    await assert.rejects(third, { code: 'TooManyRequests', details: { Reason: 'ConcurrentInvocationLimitExceeded' } });
    assert.equal(assignment.demand.read(), 3, 'refused: no longer waiting, nothing more counted');
  });

  it('does not count a throttle for the account\'s own concurrency limit (more workers would not cure it)', async () => {
    const { assignment } = await setup({ workers: [['w1', 4096]], accountLimit: 1 });
    await assignment.acquire(fn('f'));
    await assert.rejects(assignment.acquire(fn('g')), { code: 'TooManyRequests' });
    assert.equal(assignment.demand.read(), 0);
  });

  it('a burst that finds no room scales the fleet out through the journal\'s demand document, one worker at a time', async () => {
    const s = await setup();
    const path = demandPath(s);
    await path.pass(1);
    const held = [await s.assignment.acquire(fn('f')), await s.assignment.acquire(fn('f'))];
    const waiting = [s.assignment.acquire(fn('f')), s.assignment.acquire(fn('g'))];
    await path.pass(4);
    assert.deepEqual(path.provider.started.map((w) => w.id), ['new-1'], 'demand sustained 3 s: one worker asked for');
    for (const lease of held) s.assignment.release(lease, true);
    assert.ok((await Promise.all(waiting)).every((l) => l.envId), 'the waiting cold starts were served once room came');
  });

  it('attack: a tenant\'s cold starts of a function larger than any worker are refused and never grow the fleet', async () => {
    const s = await setup({ workers: [['w1', 1024]] });
    const path = demandPath(s, 250);
    await path.pass(1);
    const tooLarge = fn('huge', 'r1', 10_240);
    for (let wave = 0; wave < 4; wave++) {
      const burst = Array.from({ length: 20 }, () => s.assignment.acquire(tooLarge).then(() => 'granted', (err: { code?: string }) => err.code));
      await path.pass(5); // past capacityWaitMs: every one of them refused
      assert.deepEqual(new Set(await Promise.all(burst)), new Set(['TooManyRequests']));
    }
    assert.equal(s.assignment.demand.read(), 0, 'none counted');
    assert.deepEqual(path.provider.started, [], 'no worker started for them');
    // The same scaler does act on demand a worker could serve (the test above can fail).
    const holder = await s.assignment.acquire(fn('a', 'r1', 1024));
    const fits = s.assignment.acquire(fn('b', 'r1', 1024)).catch(() => undefined);
    await path.pass(4);
    assert.equal(path.provider.started.length, 1);
    s.assignment.release(holder, true);
    await fits;
  });

  it('attack: with a large hand-joined worker busy, cold starts larger than the workers the provider starts never grow the fleet', async () => {
    // One 16 GB worker joined by hand; the provider starts 2 GB workers.
    const s = await setup({ workers: [['big', 16_384]], newWorkerMb: 2048 });
    const path = demandPath(s, 250);
    await path.pass(1);
    const held = [await s.assignment.acquire(fn('a', 'r1', 10_240)), await s.assignment.acquire(fn('b', 'r1', 6144))];
    for (let wave = 0; wave < 3; wave++) {
      const burst = Array.from({ length: 10 }, () => s.assignment.acquire(fn('huge', 'r1', 10_240)).then(() => 'granted', (err: { code?: string }) => err.code));
      await path.pass(5);
      assert.deepEqual(new Set(await Promise.all(burst)), new Set(['TooManyRequests']));
    }
    assert.equal(s.assignment.demand.read(), 0, 'none counted: no worker the provider starts could hold one');
    assert.deepEqual(path.provider.started, [], 'no 2 GB worker started for them');
    // A cold start a 2 GB worker could hold is demand (the test above can fail).
    const fits = s.assignment.acquire(fn('c', 'r1', 2048)).catch(() => undefined);
    await path.pass(4);
    assert.equal(path.provider.started.length, 1);
    for (const lease of held) s.assignment.release(lease, true);
    await fits;
  });

  it('--fleet-min 0: with no worker at all, a cold start scales the fleet out from nothing and is placed on the worker once it joins', async () => {
    const s = await setup({ workers: [], newWorkerMb: 1024 });
    const path = demandPath(s, 4, 0);
    await path.pass(1);
    assert.equal(path.provider.started.length, 0, 'nothing started at the minimum of 0 without demand');
    let outcome: string = 'waiting';
    const cold = s.assignment.acquire(fn('f')).then((lease) => (outcome = 'granted', lease), (err: { code?: string }) => (outcome = err.code ?? 'failed', undefined));
    await path.pass(4);
    assert.deepEqual(path.provider.started.map((w) => w.id), ['new-1'], 'its demand started a worker');
    // The worker joins while the cold start still waits (4 of its 5 s): it is woken and placed there.
    const joined = new FakeWorker('new-1', 1024);
    s.workers.set(joined.id, joined);
    s.placement.register(joined);
    await s.assignment.workerJoined(joined);
    await settle();
    assert.equal(outcome, 'granted');
    assert.equal((await cold)?.worker.id, 'new-1');
  });

  it('the placement leader\'s announced worker size reaches assignment through the journal (watched)', async () => {
    const store = new MemoryJournal().functions;
    const size = new FleetWorkerSize(store);
    await size.start();
    assert.equal(size.current(), undefined, 'none announced yet');
    await announceWorkerSize(store, 2048);
    assert.equal(size.current(), 2048);
    await announceWorkerSize(store, 0); // a leader whose provider cannot start workers
    assert.equal(size.current(), 0);
    const late = new FleetWorkerSize(store);
    await late.start();
    assert.equal(late.current(), 0, 'read at start');
    size.stop();
    late.stop();
  });

  it('a new assignment leadership\'s count is all new to the reader; an older leadership\'s late write counts nothing', async () => {
    const store = new MemoryJournal().functions;
    const reader = new FleetDemandReader(store, silentLogger());
    const clock = new ManualClock();
    const publish = async (epoch: number, count: number) => new FleetDemandPublisher({ store, epoch, read: () => count, clock, intervalMs: 1000, log: silentLogger() }).publish();
    assert.equal(await reader.unplaced(), 0);
    await publish(5, 3);
    assert.equal(await reader.unplaced(), 3, 'nothing was recorded before: all of it is new');
    await publish(5, 7);
    assert.equal(await reader.unplaced(), 4);
    await publish(6, 2);
    assert.equal(await reader.unplaced(), 2);
    await publish(5, 100);
    assert.equal(await reader.unplaced(), 0, 'the deposed leadership does not overwrite its successor\'s count');
    reader.reset();
    await publish(6, 9);
    assert.equal(await reader.unplaced(), 0, 'a new placement leadership takes what is recorded as its base');
    await publish(6, 10);
    assert.equal(await reader.unplaced(), 1);
  });
});

describe('a worker joining wakes the cold starts waiting for room', () => {
  it('places waiting cold starts on a worker that joined while they waited, as many as fit; the others keep waiting', async () => {
    const { clock, placement, assignment } = await setup({ workers: [['w1', 512]] });
    await assignment.acquire(fn('full', 'r1', 512));
    const outcomes: string[] = [];
    const waiting = ['a', 'b', 'c'].map((name) => assignment.acquire(fn(name, 'r1', 512)).then((lease) => (outcomes.push(`${name}@${lease.worker.id}`), lease), (err: { code?: string }) => (outcomes.push(`${name}:${err.code}`), undefined)));
    await settle();
    clock.advance(1000);
    const w2 = new FakeWorker('w2', 1024);
    placement.register(w2);
    await assignment.workerJoined(w2);
    await settle();
    assert.deepEqual(outcomes.sort(), ['a@w2', 'b@w2'], 'two of 512 MB fit in the 1024 MB that joined');
    clock.advance(4000);
    await Promise.all(waiting);
    assert.deepEqual(outcomes.sort(), ['a@w2', 'b@w2', 'c:TooManyRequests'], 'the third still waited for room, then got its 429');
  });
});

describe('a worker being drained (scale-in) gets no grant', () => {
  it('does not hand out an idle environment on a draining worker: it is destroyed and the invoke starts cold elsewhere', async () => {
    const { placement, workers, assignment } = await setup({ workers: [['w1', 1024], ['w2', 512]] });
    const first = await assignment.acquire(fn('f'));
    assert.equal(first.worker.id, 'w1');
    assignment.release(first, true);
    placement.setDraining('w1', true);
    const next = await assignment.acquire(fn('f'));
    assert.equal(next.cold, true);
    assert.equal(next.worker.id, 'w2');
    await settle();
    assert.deepEqual(workers.get('w1')?.destroyed, [first.envId]);
  });

  it('an environment released on a draining worker is destroyed, not kept idle nor handed to a waiting cold start', async () => {
    const { clock, placement, workers, assignment } = await setup({ workers: [['w1', 256]] });
    const a = await assignment.acquire(fn('f'));
    const b = await assignment.acquire(fn('f'));
    const waiting = assignment.acquire(fn('f'));
    await settle();
    placement.setDraining('w1', true);
    assignment.release(a, true);
    await settle();
    assert.deepEqual(workers.get('w1')?.destroyed, [a.envId]);
    clock.advance(5000);
    await assert.rejects(waiting, { code: 'TooManyRequests' }, 'nothing on the draining worker was granted to it');
    assignment.release(b, true);
    await settle();
    assert.deepEqual(workers.get('w1')?.destroyed, [a.envId, b.envId]);
    assert.equal(workers.get('w1')?.status().environments, 0, 'the worker is empty: the scaler may remove it');
  });

  it('the sweep destroys idle environments on a draining worker before their keep-alive', async () => {
    const { clock, placement, workers, assignment } = await setup({ workers: [['w1', 1024]] });
    const a = await assignment.acquire(fn('f'));
    const b = await assignment.acquire(fn('g'));
    assignment.release(a, true);
    assignment.release(b, true);
    placement.setDraining('w1', true);
    clock.advance(1000);
    await settle();
    assert.deepEqual(new Set(workers.get('w1')?.destroyed), new Set([a.envId, b.envId]));
  });
});
