import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { silentLogger } from '../shared/log.js';
import { Campaigner, type CampaignerDeps } from './campaigner.js';
import type { LeaderElection, Leadership } from './journal.js';
import { MemoryJournal } from './memory-journal.js';

const settle = () => new Promise((r) => setTimeout(r, 10));
const candidate = (id: string) => ({ id, address: `http://${id}` });

/** The election of `journal`, counting campaigns; the first `failing` campaigns reject (etcd unreachable). */
function countingElection(journal: MemoryJournal, failing = 0): LeaderElection & { campaigns: number } {
  const inner = journal.election('e', 1000);
  const election = {
    campaigns: 0,
    campaign(c: Parameters<LeaderElection['campaign']>[0], signal?: AbortSignal): Promise<Leadership> {
      election.campaigns++;
      if (election.campaigns <= failing) return Promise.reject(new StratusError('JournalUnavailable', 'etcd unreachable'));
      return inner.campaign(c, signal);
    },
    leader: () => inner.leader(),
    watchLeader: (l: (c: ReturnType<typeof candidate> | undefined) => void) => inner.watchLeader(l),
  };
  return election;
}

function campaigner(id: string, election: LeaderElection, clock: ManualClock, lead: CampaignerDeps['lead'], retryMaxMs?: number): Campaigner {
  return new Campaigner({ election, candidate: candidate(id), clock, log: silentLogger(), role: 'test', lead, ...(retryMaxMs ? { retryMaxMs } : {}) });
}

describe('Campaigner', () => {
  it('leads once elected, ends what it led when the leadership is lost, and campaigns again', async () => {
    const journal = new MemoryJournal();
    const clock = new ManualClock(0);
    const events: string[] = [];
    const a = campaigner('a', journal.election('e', 1000), clock, async (l) => {
      events.push(`lead ${l.epoch}`);
      return async () => void events.push(`end ${l.epoch}`);
    });
    a.start();
    await settle();
    const first = a.current();
    assert.equal(first?.standing(), 'held');
    assert.deepEqual(events, ['lead 1']);
    await first.resign(); // lost (as when the lease runs out)
    await settle();
    assert.deepEqual(events, ['lead 1', 'end 1', 'lead 2'], 'ended, campaigned again at once (no failure) and leads anew');
    assert.equal(a.elected(), 2);
    await a.stop();
    assert.deepEqual(events, ['lead 1', 'end 1', 'lead 2', 'end 2']);
    assert.equal(a.current(), undefined);
  });

  it('stopping resigns: another candidate takes over at once', async () => {
    const journal = new MemoryJournal();
    const clock = new ManualClock(0);
    const a = campaigner('a', journal.election('e', 1000), clock, async () => async () => undefined);
    const b = campaigner('b', journal.election('e', 1000), clock, async () => async () => undefined);
    a.start();
    await settle();
    b.start();
    await settle();
    assert.ok(a.current());
    assert.equal(b.current(), undefined, 'one leader at a time');
    await a.stop();
    await settle();
    assert.equal(b.current()?.candidate.id, 'b');
    assert.deepEqual(await journal.election('e', 1000).leader(), candidate('b'));
    await b.stop();
    assert.equal(await journal.election('e', 1000).leader(), undefined);
  });

  it('a failed take-over resigns (another candidate may lead meanwhile) and waits, doubling up to retryMaxMs, before campaigning again', async () => {
    const journal = new MemoryJournal();
    const clock = new ManualClock(0);
    const election = countingElection(journal);
    let attempts = 0;
    const a = campaigner('a', election, clock, () => (++attempts <= 3 ? Promise.reject(new Error('watch failed')) : Promise.resolve(async () => undefined)), 800);
    a.start();
    await settle();
    assert.equal(attempts, 1);
    assert.equal(a.current(), undefined);
    assert.equal(await journal.election('e', 1000).leader(), undefined, 'resigned at once');
    const steps: [number, number][] = [[499, 1], [1, 2], [799, 2], [1, 3], [799, 3], [1, 4]];
    for (const [ms, campaigns] of steps) {
      clock.advance(ms);
      await settle();
      assert.equal(election.campaigns, campaigns, `after ${clock.now()} ms`);
    }
    assert.equal(a.current()?.standing(), 'held', 'the fourth take-over succeeded');
    await a.stop();
  });

  it('a campaign that fails (the journal unreachable) is retried after a back-off, not in a tight loop', async () => {
    const journal = new MemoryJournal();
    const clock = new ManualClock(0);
    const election = countingElection(journal, 2);
    const a = campaigner('a', election, clock, async () => async () => undefined);
    a.start();
    await settle();
    assert.equal(election.campaigns, 1);
    clock.advance(499);
    await settle();
    assert.equal(election.campaigns, 1);
    clock.advance(1);
    await settle();
    assert.equal(election.campaigns, 2);
    clock.advance(999);
    await settle();
    assert.equal(election.campaigns, 2, 'the second failure waits twice as long');
    clock.advance(1);
    await settle();
    assert.equal(election.campaigns, 3);
    assert.ok(a.current());
    await a.stop();
  });

  it('stop during a back-off or a waiting campaign returns at once and leaves nothing behind', async () => {
    const journal = new MemoryJournal();
    const clock = new ManualClock(0);
    const holder = await journal.election('e', 1000).campaign(candidate('x'));
    const waiting = campaigner('a', journal.election('e', 1000), clock, async () => async () => undefined);
    waiting.start();
    await settle();
    await waiting.stop();
    const failing = campaigner('b', countingElection(journal, 5), clock, async () => async () => undefined);
    failing.start();
    await settle();
    await failing.stop();
    await holder.resign();
    await settle();
    assert.equal(await journal.election('e', 1000).leader(), undefined, 'neither campaigns any more');
  });
});
