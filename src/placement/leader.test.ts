import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Candidate, LeaderElection, Leadership, LeadershipStanding } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/log.js';
import { PlacementLeader } from './leader.js';

/** A leadership whose standing the test sets; `lose()` also resolves `lost`, as the journal's tick does later. */
class FakeLeadership implements Leadership {
  standingNow: LeadershipStanding = 'held';
  resigned = false;
  readonly lost: Promise<string>;
  private resolveLost!: (reason: string) => void;
  constructor(readonly candidate: Candidate, readonly epoch: number) {
    this.lost = new Promise((resolve) => (this.resolveLost = resolve));
  }
  standing(): LeadershipStanding {
    return this.standingNow;
  }
  lose(reason = 'lease ran out'): void {
    this.standingNow = 'lost';
    this.resolveLost(reason);
  }
  resign(): Promise<void> {
    this.resigned = true;
    this.lose('resigned');
    return Promise.resolve();
  }
}

/** An election the test grants: each campaign waits until `grant()`. */
class FakeElection implements LeaderElection {
  recorded: Candidate | undefined;
  readonly granted: FakeLeadership[] = [];
  campaigns = 0;
  private waiting: ((l: Leadership) => void) | undefined;
  campaign(candidate: Candidate, signal?: AbortSignal): Promise<Leadership> {
    this.campaigns++;
    return new Promise((resolve, reject) => {
      this.waiting = (l) => resolve(l);
      signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      void candidate;
    });
  }
  grant(candidate: Candidate): FakeLeadership {
    const l = new FakeLeadership(candidate, this.granted.length + 1);
    this.granted.push(l);
    this.recorded = candidate;
    const w = this.waiting;
    this.waiting = undefined;
    w?.(l);
    return l;
  }
  leader(): Promise<Candidate | undefined> {
    return Promise.resolve(this.recorded);
  }
  watchLeader(): Promise<() => void> {
    return Promise.resolve(() => undefined);
  }
}

const settle = () => new Promise((r) => setTimeout(r, 10));
const me = { id: 'p1', address: 'https://p1' };

describe('PlacementLeader', () => {
  it('names the leader elected before it started (the watch only reports changes), and not itself', async () => {
    const election = new FakeElection();
    election.recorded = { id: 'p0', address: 'https://p0' };
    const leader = new PlacementLeader({ election, candidate: me, clock: new ManualClock(0), log: silentLogger(), lead: () => Promise.resolve(async () => undefined) });
    await leader.start();
    assert.equal(leader.leaderAddress(), 'https://p0');
    assert.equal(leader.leading(), false);
    assert.equal(leader.mayAct(), false);
    await leader.stop();
  });

  it('acts only while the lease is held: the moment the standing is lost, before the loss is processed, and ends its work once it is', async () => {
    const election = new FakeElection();
    const ends: number[] = [];
    const leader = new PlacementLeader({
      election, candidate: me, clock: new ManualClock(0), log: silentLogger(),
      lead: (l) => Promise.resolve(async () => void ends.push(l.epoch)),
    });
    await leader.start();
    const first = election.grant(me);
    await settle();
    assert.equal(leader.mayAct(), true);
    assert.equal(leader.leading(), true);
    assert.equal(leader.leaderAddress(), undefined, 'it does not send workers to itself');
    first.standingNow = 'no-quorum';
    assert.equal(leader.mayAct(), false, 'without quorum it expires nobody');
    assert.equal(leader.leading(), true, 'but goes on taking heartbeats');
    first.standingNow = 'lost';
    assert.equal(leader.mayAct(), false, 'fenced at once by its own clock');
    assert.equal(leader.leading(), false);
    first.lose();
    await settle();
    assert.deepEqual(ends, [1], 'the deposed leadership ended its work');
    const second = election.grant(me);
    await settle();
    assert.equal(leader.mayAct(), true, 'it campaigned again and leads anew');
    assert.equal(leader.elected(), 2);
    await leader.stop();
    assert.deepEqual(ends, [1, 2]);
    assert.equal(second.resigned, true, 'stopping resigns, so a follower takes over at once');
  });

  it('fences the directory\'s writes by the leadership it holds, from the take-over until the loss is processed', async () => {
    const election = new FakeElection();
    let taking: Leadership | undefined;
    const leader = new PlacementLeader({
      election, candidate: me, clock: new ManualClock(0), log: silentLogger(),
      lead: () => {
        taking = leader.fence();
        return Promise.resolve(async () => undefined);
      },
    });
    await leader.start();
    assert.equal(leader.fence(), undefined, 'a follower writes nothing');
    const first = election.grant(me);
    await settle();
    assert.equal(taking, undefined, 'not while the take-over is under way');
    assert.equal(leader.fence(), first);
    first.standingNow = 'no-quorum';
    assert.equal(leader.fence(), first, 'without quorum too (the directory defers its deletes)');
    first.lose();
    await settle();
    assert.equal(leader.fence(), undefined);
    await leader.stop();
  });

  it('a take-over that fails resigns and campaigns again, after a back-off that doubles up to retryMaxMs', async () => {
    const election = new FakeElection();
    const clock = new ManualClock(0);
    let attempts = 0;
    const leader = new PlacementLeader({
      election, candidate: me, clock, log: silentLogger(), retryMaxMs: 800,
      lead: () => (++attempts <= 3 ? Promise.reject(new Error('etcd unreachable')) : Promise.resolve(async () => undefined)),
    });
    await leader.start();
    const first = election.grant(me);
    await settle();
    assert.equal(first.resigned, true);
    assert.equal(leader.mayAct(), false);
    assert.equal(election.campaigns, 1, 'no campaign straight after a failed take-over');
    clock.advance(499);
    await settle();
    assert.equal(election.campaigns, 1);
    clock.advance(1);
    await settle();
    assert.equal(election.campaigns, 2, 'campaigns again after 500 ms');
    election.grant(me);
    await settle();
    clock.advance(799);
    await settle();
    assert.equal(election.campaigns, 2, 'the second failure waits longer (capped at retryMaxMs)');
    clock.advance(1);
    await settle();
    assert.equal(election.campaigns, 3);
    election.grant(me);
    await settle();
    clock.advance(800);
    await settle();
    election.grant(me);
    await settle();
    assert.equal(leader.mayAct(), true);
    await leader.stop();
  });
});
