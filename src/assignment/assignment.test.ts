import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal } from '../journal/index.js';
import { PlacementService } from '../placement/index.js';
import { ManualClock } from '../shared/clock.js';
import { isStratusError } from '../shared/errors.js';
import { silentLogger } from '../shared/log.js';
import { fakeFunction as fn, FakeWorker } from '../../test/helpers/fake-worker.js';
import { AssignmentService } from './assignment.js';
import { ConcurrencyLimiter } from './concurrency-limiter.js';
import type { AssignmentLogEntry } from './environments.js';


async function setup(opts: { keepAliveMs?: number; workerMemoryMb?: number; reserved?: number } = {}) {
  const clock = new ManualClock();
  const journal = new MemoryJournal();
  const placement = new PlacementService();
  const worker = new FakeWorker('w1', opts.workerMemoryMb);
  placement.register(worker);
  const assignment = new AssignmentService({
    config: { keepAliveMs: opts.keepAliveMs ?? 60_000, sweepIntervalMs: 1000, capacityWaitMs: 5000, scalingBurst: 1000, scalingWindowMs: 10_000, takeoverReleaseWaitMs: 2000 },
    log: journal.assignmentLog, placement, clock, logger: silentLogger(),
    limiter: new ConcurrencyLimiter({ accountLimit: () => 1000, reservedFor: () => opts.reserved, reservedTotal: () => opts.reserved ?? 0 }),
  });
  await assignment.start();
  const settle = () => new Promise((r) => setImmediate(r));
  const log = async () => (await journal.assignmentLog.readAfter(0)).map((e) => e.entry as AssignmentLogEntry);
  return { clock, journal, worker, assignment, settle, log };
}

describe('AssignmentService', () => {
  it('creates an environment on a cold start and reuses it warm, journaling only the creation', async () => {
    const { worker, assignment, log } = await setup();
    const first = await assignment.acquire(fn('f'));
    assert.equal(first.cold, true);
    assignment.release(first, true);
    const second = await assignment.acquire(fn('f'));
    assert.equal(second.cold, false);
    assert.equal(second.envId, first.envId);
    assert.deepEqual(worker.created, [first.envId]);
    assert.deepEqual((await log()).map((e) => e.type), ['created']);
  });

  it('gives concurrent invocations separate environments', async () => {
    const { assignment } = await setup();
    const [a, b] = await Promise.all([assignment.acquire(fn('f')), assignment.acquire(fn('f'))]);
    assert.notEqual(a?.envId, b?.envId);
  });

  it('never shares an environment across functions or revisions', async () => {
    const { assignment } = await setup();
    const a = await assignment.acquire(fn('f', 'r1'));
    assignment.release(a, true);
    const other = await assignment.acquire(fn('g', 'r1'));
    const newer = await assignment.acquire(fn('f', 'r2'));
    assert.notEqual(other.envId, a.envId);
    assert.notEqual(newer.envId, a.envId);
  });

  it('reclaims an idle environment after the keep-alive, not before', async () => {
    const { clock, worker, assignment, settle, log } = await setup({ keepAliveMs: 10_000 });
    const lease = await assignment.acquire(fn('f'));
    assignment.release(lease, true);
    clock.advance(9_000);
    await settle();
    assert.deepEqual(worker.destroyed, []);
    clock.advance(2_000);
    await settle();
    assert.deepEqual(worker.destroyed, [lease.envId]);
    assert.deepEqual((await log()).map((e) => e.type), ['created', 'destroyed']);
    assert.equal((await assignment.acquire(fn('f'))).cold, true);
  });

  it('a busy environment is never reclaimed, however long it runs', async () => {
    const { clock, worker, assignment, settle } = await setup({ keepAliveMs: 1_000 });
    await assignment.acquire(fn('f'));
    clock.advance(60_000);
    await settle();
    assert.deepEqual(worker.destroyed, []);
  });

  it('destroys an environment that did not survive its invocation', async () => {
    const { worker, assignment, settle } = await setup();
    const lease = await assignment.acquire(fn('f'));
    assignment.release(lease, false);
    await settle();
    assert.deepEqual(worker.destroyed, [lease.envId]);
    assert.equal((await assignment.acquire(fn('f'))).cold, true);
  });

  it('drops an idle environment whose worker reports it lost, so the next invoke is a cold start', async () => {
    const { worker, assignment, settle } = await setup();
    const lease = await assignment.acquire(fn('f'));
    assignment.release(lease, true);
    assignment.environmentLost(lease.envId);
    await settle();
    assert.deepEqual(worker.destroyed, [lease.envId]);
    assert.equal((await assignment.acquire(fn('f'))).cold, true);
  });

  it('forgets every environment of a lost worker, so new invokes start elsewhere', async () => {
    const { worker, assignment, settle, log } = await setup();
    const idle = await assignment.acquire(fn('f'));
    const busy = await assignment.acquire(fn('f'));
    assignment.release(idle, true);
    assignment.workerLost(worker.id);
    await settle();
    assert.equal(assignment.snapshot().length, 0);
    assert.deepEqual((await log()).filter((e) => e.type === 'destroyed').map((e) => e.envId).sort(), [idle.envId, busy.envId].sort());
    assignment.release(busy, true);
    assert.equal(assignment.snapshot().length, 0, 'a late release of a lost environment changes nothing');
  });

  it('retires a changed function: idle environments go at once, busy ones when released', async () => {
    const { worker, assignment, settle } = await setup();
    const idle = await assignment.acquire(fn('f'));
    const busy = await assignment.acquire(fn('f'));
    assignment.release(idle, true);
    assignment.retire(fn('f').functionArn);
    await settle();
    assert.deepEqual(worker.destroyed, [idle.envId]);
    assignment.release(busy, true);
    await settle();
    assert.deepEqual(worker.destroyed, [idle.envId, busy.envId]);
  });

  it('retires one version: other versions of the function keep their warm environments', async () => {
    const { worker, assignment, settle } = await setup();
    const latest = await assignment.acquire(fn('f'));
    const v1 = await assignment.acquire({ ...fn('f', 'v1-rev'), version: '1' });
    assignment.release(latest, true);
    assignment.release(v1, true);
    assignment.retire(fn('f').functionArn, '$LATEST');
    await settle();
    assert.deepEqual(worker.destroyed, [latest.envId]);
    const again = await assignment.acquire({ ...fn('f', 'v1-rev'), version: '1' });
    assert.deepEqual([again.cold, again.envId], [false, v1.envId]);
  });

  it('keeps versions and tag sets apart: the same revision under another version or tags is a cold start', async () => {
    const { assignment } = await setup();
    const first = await assignment.acquire(fn('f'));
    assignment.release(first, true);
    assert.equal((await assignment.acquire({ ...fn('f'), version: '2' })).cold, true);
    assert.equal((await assignment.acquire({ ...fn('f'), tags: { 'stratus:network': 'outbound' } })).cold, true);
    assert.equal((await assignment.acquire(fn('f'))).cold, false);
  });

  it('throttles a function that creates environments faster than its scaling rate', async () => {
    const clock = new ManualClock();
    const placement = new PlacementService();
    placement.register(new FakeWorker('w1', 10_240));
    const assignment = new AssignmentService({
      config: { keepAliveMs: 60_000, sweepIntervalMs: 1000, capacityWaitMs: 0, scalingBurst: 2, scalingWindowMs: 10_000, takeoverReleaseWaitMs: 2000 },
      log: new MemoryJournal().assignmentLog, placement, clock, logger: silentLogger(),
    });
    const first = await assignment.acquire(fn('f'));
    await assignment.acquire(fn('f'));
    await assert.rejects(assignment.acquire(fn('f')), { code: 'TooManyRequests', details: { Reason: 'FunctionInvocationRateLimitExceeded' } });
    assignment.release(first, true);
    assert.equal((await assignment.acquire(fn('f'))).cold, false, 'warm invokes are never rate limited');
    clock.advance(5000);
    assert.equal((await assignment.acquire(fn('f'))).cold, true);
  });

  it('keeps provisioned environments initialized past the keep-alive, tops them up, and lets them go at 0', async () => {
    const { clock, worker, assignment, settle } = await setup({ keepAliveMs: 1000 });
    const version = { ...fn('f'), version: '1' };
    assignment.setProvisioned(version, 2);
    await settle();
    assert.equal(worker.created.length, 2);
    assert.equal(assignment.provisionedCount(version), 2);
    clock.advance(5000);
    await settle();
    assert.deepEqual(worker.destroyed, [], 'never reaped');
    const lease = await assignment.acquire(version);
    assert.equal(lease.cold, false, 'an invoke takes a provisioned environment');
    assignment.release(lease, false);
    clock.advance(1000);
    await settle();
    assert.equal(assignment.provisionedCount(version), 2, 'a lost one is replaced on the next sweep');
    assignment.setProvisioned(version, 0);
    await settle();
    assert.equal(assignment.provisionedCount(version), 0);
  });

  it('waits for room when no worker has memory left, then refuses with TooManyRequests', async () => {
    const { clock, assignment } = await setup({ workerMemoryMb: 256 });
    await assignment.acquire(fn('f'));
    await assignment.acquire(fn('f'));
    const third = assignment.acquire(fn('f'));
    clock.advance(4999);
    await new Promise((r) => setImmediate(r));
    clock.advance(1);
    await assert.rejects(third, { code: 'TooManyRequests', details: { Reason: 'ConcurrentInvocationLimitExceeded' } });
  });

  it('hands a released environment straight to a cold start of the same function that is waiting for room', async () => {
    const { worker, assignment } = await setup({ workerMemoryMb: 256 });
    const a = await assignment.acquire(fn('f'));
    await assignment.acquire(fn('f'));
    const third = assignment.acquire(fn('f'));
    await new Promise((r) => setImmediate(r));
    assignment.release(a, true);
    const lease = await third;
    assert.deepEqual({ envId: lease.envId, cold: lease.cold }, { envId: a.envId, cold: false });
    assert.equal(worker.created.length, 2, 'no third sandbox');
  });

  it('a waiting cold start gets the room a destroyed environment frees', async () => {
    const { assignment } = await setup({ workerMemoryMb: 256 });
    const a = await assignment.acquire(fn('f'));
    await assignment.acquire(fn('f'));
    const other = assignment.acquire(fn('g'));
    await new Promise((r) => setImmediate(r));
    assignment.release(a, false);
    assert.equal((await other).cold, true);
  });

  it('under memory pressure evicts the least recently used idle environment first', async () => {
    const { clock, worker, assignment, settle } = await setup({ workerMemoryMb: 256 });
    const older = await assignment.acquire(fn('f'));
    const newer = await assignment.acquire(fn('g'));
    assignment.release(older, true);
    clock.advance(10);
    assignment.release(newer, true);
    const third = await assignment.acquire(fn('h'));
    await settle();
    assert.equal(third.cold, true);
    assert.deepEqual(worker.destroyed, [older.envId]);
    assert.equal((await assignment.acquire(fn('g'))).envId, newer.envId, 'the more recently used one stays warm');
  });

  it('records a failed creation as destroyed and surfaces the error', async () => {
    const { worker, assignment, log } = await setup();
    worker.failCreate = true;
    await assert.rejects(assignment.acquire(fn('f')), /boot failed/);
    assert.deepEqual((await log()).map((e) => e.type), ['created', 'destroyed']);
    assert.equal(assignment.snapshot().length, 0);
  });

  it('counts each granted environment against reserved concurrency until it is released or lost', async () => {
    const { assignment } = await setup({ reserved: 1 });
    const first = await assignment.acquire(fn('f'));
    await assert.rejects(assignment.acquire(fn('f')), (err) => isStratusError(err) && err.details.Reason === 'ReservedFunctionConcurrentInvocationLimitExceeded');
    assignment.release(first, true);
    assignment.release(first, true);
    const again = await assignment.acquire(fn('f'));
    assert.equal(again.envId, first.envId);
    assignment.workerLost('w1');
    const fresh = await assignment.acquire(fn('f'));
    assert.equal(fresh.cold, true, 'the environment lost with its worker no longer counts against the reservation');
  });

  it('on start, closes environments a previous run left in the journal and compacts the log', async () => {
    const journal = new MemoryJournal();
    await journal.assignmentLog.append({ type: 'created', envId: 'old', key: 'f', workerId: 'w1', memoryMb: 128, atMs: 0 });
    const placement = new PlacementService();
    const assignment = new AssignmentService({
      config: { keepAliveMs: 1000, sweepIntervalMs: 1000, capacityWaitMs: 5000, scalingBurst: 1000, scalingWindowMs: 10_000, takeoverReleaseWaitMs: 2000 }, log: journal.assignmentLog, placement,
      clock: new ManualClock(), logger: silentLogger(),
    });
    await assignment.start();
    assert.deepEqual(await journal.assignmentLog.readAfter(0), []);
    await assignment.shutdown();
  });
});

