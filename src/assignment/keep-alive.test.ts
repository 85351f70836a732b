import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal } from '../journal/index.js';
import { PlacementService } from '../placement/index.js';
import { ManualClock } from '../shared/clock.js';
import { keepAliveSchema, type KeepAliveConfig } from '../shared/config.js';
import { silentLogger } from '../shared/log.js';
import { fakeFunction as fn, FakeWorker } from '../../test/helpers/fake-worker.js';
import { AssignmentService } from './assignment.js';

const MIN = 60_000;

/** An assignment service on a manual clock, with a fake worker, and the given keep-alive policy. */
async function setup(keepAlive?: Partial<KeepAliveConfig>, keepAliveMs = 60 * MIN) {
  const clock = new ManualClock();
  const journal = new MemoryJournal();
  const placement = new PlacementService();
  const worker = new FakeWorker('w1', 64 * 1024, { clock });
  placement.register(worker);
  const assignment = new AssignmentService({
    config: {
      keepAliveMs, sweepIntervalMs: 1000, capacityWaitMs: 5000, scalingBurst: 1000, scalingWindowMs: 10_000, takeoverReleaseWaitMs: 2000,
      ...(keepAlive ? { keepAlive: keepAliveSchema.parse(keepAlive) } : {}),
    },
    log: journal.assignmentLog, placement, clock, logger: silentLogger(),
  });
  await assignment.start();
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  const advance = async (ms: number) => {
    clock.advance(ms);
    await settle();
  };
  /** One invoke of `f` that returns its environment at once. */
  const invoke = async (name = 'f') => {
    const lease = await assignment.acquire(fn(name));
    assignment.release(lease, true);
    await settle();
    return lease;
  };
  const live = () => worker.created.filter((id) => !worker.destroyed.includes(id));
  return { clock, worker, assignment, advance, invoke, live };
}

/** Invokes `f` every `periodMs`, `n` times (the first a cold start). */
async function periodic(t: Awaited<ReturnType<typeof setup>>, periodMs: number, n: number) {
  const leases = [await t.invoke()];
  for (let i = 1; i < n; i++) {
    await t.advance(periodMs);
    leases.push(await t.invoke());
  }
  return leases;
}

describe('keep-alive policies in the assignment service', () => {
  it('fixed (the default): an environment invoked every 10 minutes is kept the whole keep-alive, whatever the pattern', async () => {
    const t = await setup(undefined, 15 * MIN);
    const leases = await periodic(t, 10 * MIN, 6);
    assert.deepEqual(leases.map((l) => l.cold), [true, false, false, false, false, false]);
    assert.equal(t.worker.created.length, 1);
    await t.advance(14 * MIN);
    assert.equal(t.live().length, 1, 'still idle within the keep-alive');
    await t.advance(1 * MIN + 1000);
    assert.deepEqual(t.live(), [], 'reclaimed after 15 minutes');
  });

  it('fixed, explicitly chosen: a 5-minute keep-alive turns a 10-minute timer into a cold start every time', async () => {
    const t = await setup({ policy: 'fixed' }, 5 * MIN);
    const leases = await periodic(t, 10 * MIN, 4);
    assert.deepEqual(leases.map((l) => l.cold), [true, true, true, true]);
  });

  it('histogram: a 10-minute timer, once learnt, is unloaded after each invoke and pre-warmed through the boot path before the next', async () => {
    const t = await setup({ policy: 'histogram', minSamples: 5 }, 60 * MIN);
    const learning = await periodic(t, 10 * MIN, 6);
    assert.deepEqual(learning.map((l) => l.cold), [true, false, false, false, false, false], 'kept by the fixed keep-alive while learning');
    // The sixth invoke ended with 5 idle times of 10 min learnt: unloaded at once.
    assert.deepEqual(t.live(), [], 'unloaded after the invoke');
    await t.advance(9 * MIN - 2000);
    assert.deepEqual(t.live(), [], 'nothing before the pre-warm window (0.9 x 10 min)');
    await t.advance(3000);
    const [prewarmed] = t.live();
    assert.ok(prewarmed, 'pre-warmed 9 minutes after the invoke, with no invoke asking for it');
    assert.equal(t.worker.created.length, 2);
    assert.equal(t.assignment.snapshot()[0]?.state.kind, 'idle');
    await t.advance(1 * MIN - 1000);
    const next = await t.invoke();
    assert.equal(next.cold, false, 'the next invoke finds it warm');
    assert.equal(next.envId, prewarmed);
  });

  it('histogram: a pre-warmed environment no invoke comes for is reclaimed after the keep-alive window (0.9 x 10 to 1.1 x 11 min)', async () => {
    const t = await setup({ policy: 'histogram', minSamples: 5 }, 60 * MIN);
    await periodic(t, 10 * MIN, 6);
    await t.advance(9 * MIN + 1000);
    assert.equal(t.live().length, 1);
    await t.advance(3 * MIN);
    assert.equal(t.live().length, 1, 'kept to 12.1 min after the invoke');
    await t.advance(1 * MIN);
    assert.deepEqual(t.live(), [], 'then reclaimed: the pattern did not come');
    assert.equal((await t.invoke()).cold, true);
  });

  it('histogram: a function invoked every 20 s is kept ~1.1 minutes after its last invoke, not the 60-minute fixed keep-alive', async () => {
    const t = await setup({ policy: 'histogram', minSamples: 5 }, 60 * MIN);
    const leases = await periodic(t, 20_000, 12);
    assert.equal(leases.filter((l) => l.cold).length, 1);
    await t.advance(60_000);
    assert.equal(t.live().length, 1);
    await t.advance(8000);
    assert.deepEqual(t.live(), [], 'reclaimed 66 s after the invoke');
  });

  it('histogram: irregular idle times fall back to the fixed keep-alive', async () => {
    const t = await setup({ policy: 'histogram', minSamples: 5 }, 30 * MIN);
    await t.invoke();
    for (const idle of [1, 29, 7, 13, 22, 3, 17, 26].map((m) => m * MIN)) {
      await t.advance(idle);
      assert.equal((await t.invoke()).cold, false);
    }
    await t.advance(29 * MIN);
    assert.equal(t.live().length, 1, 'kept for the fixed 30 minutes');
  });

  it('histogram: provisioned environments are never unloaded, and spill-over environments follow the policy', async () => {
    const t = await setup({ policy: 'histogram', minSamples: 5 }, 60 * MIN);
    t.assignment.setProvisioned(fn('f'), 1);
    await t.advance(1000);
    const [provisioned] = t.assignment.snapshot().filter((e) => e.provisioned);
    assert.ok(provisioned);
    const learning = await periodic(t, 10 * MIN, 6);
    assert.ok(learning.every((l) => !l.cold && l.envId === provisioned.id), 'the provisioned environment serves the timer');
    await t.advance(10 * MIN);
    const a = await t.assignment.acquire(fn('f'));
    const b = await t.assignment.acquire(fn('f'));
    assert.deepEqual([a.envId === provisioned.id, b.cold], [true, true]);
    t.assignment.release(a, true);
    t.assignment.release(b, true);
    await t.advance(1000);
    assert.deepEqual(t.live(), [provisioned.id], 'the on-demand one is unloaded, the provisioned one stays');
    await t.advance(200 * MIN);
    assert.ok(t.live().includes(provisioned.id));
  });

  it('histogram: of overlapping invokes, the environment released while another still runs is kept like the fixed policy keeps it', async () => {
    const t = await setup({ policy: 'histogram', minSamples: 5 }, 30 * MIN);
    await periodic(t, 10 * MIN, 6);
    await t.advance(10 * MIN);
    const a = await t.assignment.acquire(fn('f'));
    const b = await t.assignment.acquire(fn('f'));
    t.assignment.release(a, true);
    t.assignment.release(b, true);
    await t.advance(1000);
    assert.deepEqual(t.live().filter((id) => id === a.envId || id === b.envId), [a.envId], 'the scale-out one stays idle, the last one out is unloaded');
    await t.advance(30 * MIN);
    assert.ok(!t.live().includes(a.envId), 'reclaimed after the fixed keep-alive');
  });

  it('histogram: a changed function is not pre-warmed with its old code', async () => {
    const t = await setup({ policy: 'histogram', minSamples: 5 }, 60 * MIN);
    await periodic(t, 10 * MIN, 6);
    t.assignment.retire(fn('f').functionArn);
    await t.advance(20 * MIN);
    assert.equal(t.worker.created.length, 1, 'no pre-warm of the retired revision');
  });

  it('histogram: no pre-warm when the worker has no room, and nothing idle is evicted for one', async () => {
    const t = await setup({ policy: 'histogram', minSamples: 5 }, 60 * MIN);
    await periodic(t, 10 * MIN, 6);
    // Fill the worker with idle environments of another function (64 GB / 128 MB = 512).
    const others = await Promise.all(Array.from({ length: 512 }, () => t.assignment.acquire(fn('g'))));
    for (const l of others) t.assignment.release(l, true);
    await t.advance(10 * MIN);
    assert.equal(t.worker.created.length, 513, 'no pre-warm of f');
    assert.equal(t.live().length, 512, 'and no g evicted for one');
  });

  it('histogram: an invoke whose environment was destroyed while it ran (worker lost) does not keep its key running', async () => {
    const t = await setup({ policy: 'histogram', minSamples: 5 }, 60 * MIN);
    await periodic(t, 10 * MIN, 6);
    await t.advance(9 * MIN + 1000);
    const lost = await t.assignment.acquire(fn('f'));
    t.assignment.workerLost('w1');
    t.assignment.release(lost, false);
    await t.advance(10 * MIN);
    const next = await t.invoke();
    assert.equal(next.cold, true);
    assert.deepEqual(t.live(), [], 'the next invoke, the only one running, is unloaded by the learnt window');
  });

  it('histogram: an invoke that got no environment does not keep its key running', async () => {
    const t = await setup({ policy: 'histogram', minSamples: 5 }, 60 * MIN);
    await periodic(t, 10 * MIN, 6);
    await t.advance(1 * MIN);
    t.worker.failCreate = true;
    await assert.rejects(t.assignment.acquire(fn('f')));
    t.worker.failCreate = false;
    await t.invoke();
    assert.deepEqual(t.live(), [], 'unloaded by the learnt window');
  });

  it('histogram: an environment released while another invoke is still cold-starting is not the last one running', async () => {
    const t = await setup({ policy: 'histogram', minSamples: 5 }, 30 * MIN);
    await periodic(t, 10 * MIN, 6);
    await t.advance(9 * MIN + 1000);
    const a = await t.assignment.acquire(fn('f'));
    assert.equal(a.cold, false, 'the pre-warmed one');
    let boot = () => {};
    const create = t.worker.createEnvironment.bind(t.worker);
    t.worker.createEnvironment = async (...args) => {
      await new Promise<void>((resolve) => (boot = resolve));
      return create(...args);
    };
    const b = t.assignment.acquire(fn('f'));
    await t.advance(0);
    t.assignment.release(a, true);
    await t.advance(1000);
    assert.ok(t.live().includes(a.envId), 'kept like a scale-out environment while b still boots');
    boot();
    t.assignment.release(await b, true);
    await t.advance(1000);
    assert.deepEqual(t.live(), [a.envId], 'b, the last out, is unloaded; a stays on the fixed keep-alive');
  });

  it('histogram: a pre-warm tells the worker so (it refills its warm pool at once), a cold start does not', async () => {
    const t = await setup({ policy: 'histogram', minSamples: 5 }, 60 * MIN);
    const prewarms: (boolean | undefined)[] = [];
    const create = t.worker.createEnvironment.bind(t.worker);
    t.worker.createEnvironment = (envId, spec, opts) => {
      prewarms.push(opts?.prewarm);
      return create(envId, spec, opts);
    };
    await periodic(t, 10 * MIN, 6);
    await t.advance(9 * MIN + 1000);
    assert.deepEqual(prewarms, [undefined, true]);
  });
});

