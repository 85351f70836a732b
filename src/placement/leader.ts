import { Campaigner, type Candidate, type LeaderElection, type Leadership } from '../journal/index.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';

export interface PlacementLeaderDeps {
  election: LeaderElection;
  candidate: Candidate;
  clock: Clock;
  log: Logger;
  /**
   * Takes over: adopts the recorded workers with fresh leases and starts the sweeps only the
   * leader runs. Resolves what ends them (called once the leadership is lost, or on stop).
   */
  lead(leadership: Leadership): Promise<() => Promise<void>>;
  /** The longest wait before campaigning again after failed take-overs (doubling from 500 ms); the leader TTL, say. Default 5 s. */
  retryMaxMs?: number;
}

/**
 * One placement replica's part in the election (`elections/placement` in the journal): a
 * Campaigner campaigns, leads while the lease holds, and on losing it stops acting and campaigns
 * again. Fencing, twice: `mayAct()` is true only while the lease is held by this process's own
 * clock, measured from when its last renewal was sent (so it ends before etcd lets a successor
 * in); a deposed replica checks it before every destructive step (expiring a worker, deleting its
 * directory entry). And `fence()` is the leadership the directory's writes are made under: each is
 * an etcd transaction that commits only while this leadership's election key still exists, so a
 * write already in flight when the replica was paused or cut off past its lease fails instead of
 * landing (see WorkerDirectory).
 */
export class PlacementLeader {
  /** The leader as the journal records it (another replica, or this one). */
  private recorded: Candidate | undefined;
  private unwatch: (() => void) | undefined;
  private readonly campaigner: Campaigner;

  constructor(private readonly deps: PlacementLeaderDeps) {
    const { election, candidate, clock, log, lead, retryMaxMs } = deps;
    this.campaigner = new Campaigner({ election, candidate, clock, log, lead, role: 'placement', ...(retryMaxMs === undefined ? {} : { retryMaxMs }) });
  }

  async start(): Promise<void> {
    let changed = false;
    this.unwatch = await this.deps.election.watchLeader((leader) => {
      changed = true;
      this.recorded = leader;
    });
    // The watch reports changes from now on: the leader elected before is read once.
    const current = await this.deps.election.leader().catch(() => undefined);
    if (!changed) this.recorded = current;
    this.campaigner.start();
  }

  /** Whether this replica leads and may act on the workers (expire them, write the directory). */
  mayAct(): boolean {
    return this.campaigner.current()?.standing() === 'held';
  }

  /**
   * Whether heartbeats are taken here: while the leadership is not lost (with etcd briefly
   * without quorum, the leases go on being renewed, but nothing is expired or deleted).
   */
  leading(): boolean {
    const standing = this.campaigner.current()?.standing();
    return standing === 'held' || standing === 'no-quorum';
  }

  /** The leadership while this replica leads (whatever its standing): what the directory's writes are fenced by. */
  fence(): Leadership | undefined {
    return this.campaigner.current();
  }

  /** The leader's address as recorded in the journal (what a refused heartbeat is pointed to). */
  leaderAddress(): string | undefined {
    const r = this.recorded;
    return r && r.id !== this.deps.candidate.id ? r.address : undefined;
  }

  /** Leaderships this replica took over (a metric). */
  elected(): number {
    return this.campaigner.elected();
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    await this.campaigner.stop();
  }
}
