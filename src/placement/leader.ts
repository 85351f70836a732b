import type { Candidate, LeaderElection, Leadership } from '../journal/index.js';
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

const RETRY_FIRST_MS = 500;

/**
 * One placement replica's part in the election (`elections/placement` in the journal): it
 * campaigns, leads while its lease holds, and on losing it stops acting and campaigns again.
 * Fencing: `mayAct()` is true only while the lease is held by this process's own clock, measured
 * from when its last renewal was sent (so it ends before etcd lets a successor in); a deposed
 * replica checks it before every destructive step (expiring a worker, deleting its directory
 * entry), so a replica paused or cut off past its lease never undoes its successor's work.
 */
export class PlacementLeader {
  private leadership: Leadership | undefined;
  /** The leader as the journal records it (another replica, or this one). */
  private recorded: Candidate | undefined;
  private unwatch: (() => void) | undefined;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private takeOvers = 0;

  constructor(private readonly deps: PlacementLeaderDeps) {}

  async start(): Promise<void> {
    let changed = false;
    this.unwatch = await this.deps.election.watchLeader((leader) => {
      changed = true;
      this.recorded = leader;
    });
    // The watch reports changes from now on: the leader elected before is read once.
    const current = await this.deps.election.leader().catch(() => undefined);
    if (!changed) this.recorded = current;
    this.loop = this.campaign();
  }

  /** Whether this replica leads and may act on the workers (expire them, write the directory). */
  mayAct(): boolean {
    return this.leadership?.standing() === 'held';
  }

  /**
   * Whether heartbeats are taken here: while the leadership is not lost (with etcd briefly
   * without quorum, the leases go on being renewed, but nothing is expired or deleted).
   */
  leading(): boolean {
    const standing = this.leadership?.standing();
    return standing === 'held' || standing === 'no-quorum';
  }

  /** The leader's address as recorded in the journal (what a refused heartbeat is pointed to). */
  leaderAddress(): string | undefined {
    const r = this.recorded;
    return r && r.id !== this.deps.candidate.id ? r.address : undefined;
  }

  /** Leaderships this replica took over (a metric). */
  elected(): number {
    return this.takeOvers;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.unwatch?.();
    await this.loop;
  }

  private async campaign(): Promise<void> {
    const { election, candidate, log, clock } = this.deps;
    const signal = this.stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      let leadership: Leadership;
      try {
        leadership = await election.campaign(candidate, signal);
      } catch (err) {
        if (signal.aborted) return;
        log.warn({ err }, 'campaigning for the placement leadership failed; trying again');
        await this.pause(RETRY_FIRST_MS);
        continue;
      }
      const started = clock.monotonic();
      let end: (() => Promise<void>) | undefined;
      try {
        end = await this.deps.lead(leadership);
        this.leadership = leadership;
        this.takeOvers++;
        log.info({ epoch: leadership.epoch, takeOverMs: Math.round(clock.monotonic() - started) }, 'elected placement leader');
      } catch (err) {
        log.error({ err }, 'taking over placement failed; resigning');
      }
      const reason = end
        ? await Promise.race([leadership.lost, new Promise<string>((resolve) => signal.addEventListener('abort', () => resolve('stopping'), { once: true }))])
        : 'take-over failed';
      this.leadership = undefined;
      await end?.().catch((err: unknown) => log.warn({ err }, 'ending the placement leadership failed'));
      if (signal.aborted || !end) await leadership.resign().catch(() => undefined);
      if (!signal.aborted) log.warn({ epoch: leadership.epoch, reason }, 'placement leadership lost: no longer acting on workers');
      // A take-over that failed (etcd watches failing, say) is not retried at once: back off, doubling up to retryMaxMs.
      failures = end ? 0 : failures + 1;
      if (failures > 0 && !signal.aborted) await this.pause(Math.min(RETRY_FIRST_MS * 2 ** (failures - 1), this.deps.retryMaxMs ?? 5000));
    }
  }

  /** Waits `ms` on the injected clock, or until stopped. */
  private pause(ms: number): Promise<void> {
    const signal = this.stopping.signal;
    return new Promise<void>((resolve) => {
      const timer = this.deps.clock.setTimer(ms, resolve);
      signal.addEventListener('abort', () => (timer.cancel(), resolve()), { once: true });
    });
  }
}
