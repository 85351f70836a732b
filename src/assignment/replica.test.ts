import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fakeFunction as fn, FakeWorker } from '../../test/helpers/fake-worker.js';
import { MemoryJournal, type Leadership, type LeadershipStanding } from '../journal/index.js';
import { PlacementService } from '../placement/index.js';
import { ManualClock } from '../shared/clock.js';
import { isStratusError } from '../shared/errors.js';
import { silentLogger } from '../shared/log.js';
import { AssignmentService } from './assignment.js';
import { EnvironmentTable, type AssignmentLogEntry } from './environments.js';
import { AssignmentReplica } from './replica.js';

const CONFIG = { keepAliveMs: 60_000, sweepIntervalMs: 1000, capacityWaitMs: 0, scalingBurst: 1000, scalingWindowMs: 10_000, takeoverReleaseWaitMs: 2000 };

/** Replicas sharing one journal and one set of workers, as the processes of a cluster do. */
function cluster(workers: FakeWorker[]) {
  const journal = new MemoryJournal();
  const clock = new ManualClock();
  const replica = (id: string) => new AssignmentReplica({
    log: journal.assignmentLog, election: journal.election('assignment', 1000), candidate: { id, address: `http://${id}` },
    clock, logger: silentLogger(), tailIntervalMs: 100,
    lead: async (leadership) => {
      const placement = new PlacementService();
      for (const w of workers) placement.register(w);
      return new AssignmentService({ config: CONFIG, log: journal.assignmentLog, placement, clock, logger: silentLogger(), leadership, compactEvery: 3 });
    },
  });
  return { journal, clock, replica };
}

async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !predicate(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(predicate(), 'condition not reached');
}

describe('AssignmentReplica', () => {
  it('a follower that takes over keeps the leader\'s warm environments warm, and fences the workers', async () => {
    const worker = new FakeWorker('w1');
    const { replica, clock } = cluster([worker]);
    const a = replica('a');
    const b = replica('b');
    a.start();
    b.start();
    await until(() => a.leader() !== undefined);
    const first = a.leader();
    assert.ok(first && b.leader() === undefined);
    const leases = await Promise.all([first.acquire(fn('f')), first.acquire(fn('f'))]);
    for (const lease of leases) first.release(lease, true);
    clock.advance(100);
    await a.stop();
    await until(() => b.leader() !== undefined);
    const second = b.leader();
    assert.ok(second);
    const again = await second.acquire(fn('f'));
    assert.equal(again.cold, false, 'warm after the takeover');
    assert.ok(leases.some((l) => l.envId === again.envId));
    assert.ok((again.epoch ?? 0) > (leases[0]?.epoch ?? 0), 'the new leadership grants with a higher epoch');
    assert.equal(worker.epoch, again.epoch, 'the worker was fenced with it at takeover');
    await b.stop();
  });

  it('just after a takeover, a cold start waits briefly for an environment that was busy at the old leader', async () => {
    const worker = new FakeWorker('w1');
    const { replica, clock } = cluster([worker]);
    const a = replica('a');
    a.start();
    await until(() => a.leader() !== undefined);
    const inFlight = await a.leader()?.acquire(fn('f'));
    assert.ok(inFlight);
    worker.busy.add(inFlight.envId);
    await a.stop();
    const b = replica('b');
    b.start();
    await until(() => b.leader() !== undefined);
    const next = b.leader()?.acquire(fn('f'));
    clock.advance(500);
    b.leader()?.release(inFlight, true);
    const lease = await next;
    assert.equal(lease?.envId, inFlight.envId, 'handed the environment whose release came late, not a cold start');
    assert.equal(lease?.cold, false);
    const other = b.leader()?.acquire(fn('f'));
    clock.advance(2000);
    assert.equal((await other)?.cold, true, 'once the wait is over, a cold start goes ahead');
    await b.stop();
  });

  it('takeover writes off environments their worker lost and destroys ones the journal never had', async () => {
    const worker = new FakeWorker('w1');
    const { replica } = cluster([worker]);
    const a = replica('a');
    a.start();
    await until(() => a.leader() !== undefined);
    const lease = await a.leader()?.acquire(fn('f'));
    assert.ok(lease);
    a.leader()?.release(lease, true);
    await a.stop();
    worker.destroyed.push(lease.envId);
    worker.created.push('stray');
    const b = replica('b');
    b.start();
    await until(() => b.leader() !== undefined);
    assert.ok(worker.destroyed.includes('stray'), 'an environment no journal entry names is destroyed');
    const next = await b.leader()?.acquire(fn('f'));
    assert.equal(next?.cold, true, 'the lost environment is not handed out');
    await b.stop();
  });
});

describe('EnvironmentTable', () => {
  it('a reader of a compacted log starts from the snapshot and reaches the same table', async () => {
    const journal = new MemoryJournal();
    const placement = new PlacementService();
    placement.register(new FakeWorker('w1'));
    const service = new AssignmentService({ config: CONFIG, log: journal.assignmentLog, placement, clock: new ManualClock(), logger: silentLogger(), compactEvery: 3 });
    const leases = [];
    for (let i = 0; i < 5; i++) leases.push(await service.acquire(fn(`f${i}`)));
    const gone = leases.pop();
    assert.ok(gone);
    service.release(gone, false);
    await until(() => service.snapshot().length === 4);
    await new Promise((r) => setImmediate(r));
    const snapshot = await journal.assignmentLog.readSnapshot();
    assert.ok(snapshot && snapshot.seq > 0, 'the log was compacted');
    const remaining = await journal.assignmentLog.readAfter(0);
    assert.ok(remaining.every((e) => e.seq > snapshot.seq));
    const table = new EnvironmentTable();
    await table.catchUp(journal.assignmentLog);
    assert.deepEqual([...table.live.keys()].sort(), leases.map((l) => l.envId).sort());
  });
});

describe('AssignmentService under a leadership', () => {
  it('without quorum, warm environments are granted and cold starts refused clearly; a lost leadership grants nothing', async () => {
    const journal = new MemoryJournal();
    const placement = new PlacementService();
    placement.register(new FakeWorker('w1'));
    let standing: LeadershipStanding = 'held';
    const lead: Leadership = await journal.election('assignment', 1000).campaign({ id: 'x', address: 'http://x' });
    Object.assign(lead, { standing: () => standing });
    const service = new AssignmentService({ config: CONFIG, log: journal.assignmentLog, placement, clock: new ManualClock(), logger: silentLogger(), leadership: lead });
    const lease = await service.acquire(fn('f'));
    service.release(lease, true);
    standing = 'no-quorum';
    const warm = await service.acquire(fn('f'));
    assert.equal(warm.cold, false);
    assert.equal(warm.epoch, lead.epoch);
    await assert.rejects(service.acquire(fn('f')), (err) => isStratusError(err) && err.code === 'JournalUnavailable' && /quorum/.test(err.message));
    service.release(warm, true);
    standing = 'lost';
    await assert.rejects(service.acquire(fn('f')), (err) => isStratusError(err) && err.code === 'NotLeader');
  });

  it('appends under a leadership that is no longer current are refused (fencing)', async () => {
    const journal = new MemoryJournal();
    const election = journal.election('assignment', 1000);
    const first = await election.campaign({ id: 'a', address: 'http://a' });
    await first.resign();
    await election.campaign({ id: 'b', address: 'http://b' });
    const entry: AssignmentLogEntry = { type: 'destroyed', envId: 'e', atMs: 0, reason: 'test' };
    await assert.rejects(journal.assignmentLog.append(entry, first), (err) => isStratusError(err) && err.code === 'Fenced');
  });
});
