import type { AppendLog, Candidate, LeaderElection, Leadership } from '../journal/index.js';
import type { Clock, TimerHandle } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';
import type { AssignmentService } from './assignment.js';
import { EnvironmentTable } from './environments.js';

export interface ReplicaDeps {
  log: AppendLog;
  election: LeaderElection;
  candidate: Candidate;
  clock: Clock;
  logger: Logger;
  /** How often a follower reads new log entries. */
  tailIntervalMs: number;
  /** Builds the service a leadership runs (its placement follows the worker membership). */
  lead(leadership: Leadership): Promise<AssignmentService>;
  /** The service took over and now grants. */
  leading?(service: AssignmentService): void;
  /** The service ended with its leadership. */
  retired?(service: AssignmentService): void;
}

export type ReplicaRole =
  | { kind: 'follower' }
  | { kind: 'taking-over'; leadership: Leadership }
  | { kind: 'leader'; leadership: Leadership; service: AssignmentService }
  | { kind: 'stopped' };

/**
 * One assignment replica. As a follower it tails the journal's assignment log into an
 * environment table (a hot standby) and campaigns; once elected it catches up with the log,
 * hands the table to a new AssignmentService, which reconciles with the workers, and serves
 * until its leadership is lost — then it is a follower again and campaigns anew.
 */
export class AssignmentReplica {
  private role: ReplicaRole = { kind: 'follower' };
  private table = new EnvironmentTable();
  private tailTimer: TimerHandle | undefined;
  private readonly stopping = new AbortController();

  constructor(private readonly deps: ReplicaDeps) {}

  start(): void {
    this.tail();
    void this.campaign();
  }

  /** The service, while this replica leads and may grant. */
  leader(): AssignmentService | undefined {
    return this.role.kind === 'leader' && this.role.leadership.standing() !== 'lost' ? this.role.service : undefined;
  }

  /** The role, and as leader its epoch, standing and table size. */
  status(): { id: string; role: ReplicaRole['kind']; epoch?: number; standing?: string; environments?: number } {
    const { role } = this;
    const base = { id: this.deps.candidate.id, role: role.kind };
    if (role.kind === 'leader') return { ...base, epoch: role.leadership.epoch, standing: role.leadership.standing(), environments: role.service.snapshot().length };
    if (role.kind === 'taking-over') return { ...base, epoch: role.leadership.epoch };
    return base;
  }

  async stop(): Promise<void> {
    const role = this.role;
    this.role = { kind: 'stopped' };
    this.stopping.abort();
    this.tailTimer?.cancel();
    if (role.kind === 'leader') role.service.abdicate();
    if (role.kind === 'leader' || role.kind === 'taking-over') await role.leadership.resign().catch(() => undefined);
  }

  private tail(): void {
    if (this.role.kind === 'stopped') return;
    const next = () => {
      this.tailTimer = this.deps.clock.setTimer(this.deps.tailIntervalMs, () => this.tail());
    };
    if (this.role.kind !== 'follower') return next();
    this.table.catchUp(this.deps.log).then(next, (err: unknown) => {
      this.deps.logger.debug({ err }, 'following the assignment log failed; retrying');
      next();
    });
  }

  private async campaign(): Promise<void> {
    while (this.role.kind === 'follower') {
      let leadership: Leadership;
      try {
        leadership = await this.deps.election.campaign(this.deps.candidate, this.stopping.signal);
      } catch (err) {
        if (this.stopping.signal.aborted) return;
        this.deps.logger.warn({ err }, 'campaign failed; retrying');
        await new Promise((r) => this.deps.clock.setTimer(500, () => r(undefined)));
        continue;
      }
      if (this.role.kind !== 'follower') {
        await leadership.resign().catch(() => undefined);
        return;
      }
      await this.takeOver(leadership);
      if ((this.role as ReplicaRole).kind === 'leader') {
        await leadership.lost;
        this.stepDown(leadership);
      }
    }
  }

  private async takeOver(leadership: Leadership): Promise<void> {
    const started = this.deps.clock.monotonic();
    this.role = { kind: 'taking-over', leadership };
    try {
      await this.table.catchUp(this.deps.log);
      const service = await this.deps.lead(leadership);
      await service.takeOver(this.table);
      if (this.role.kind !== 'taking-over') return service.abdicate();
      this.role = { kind: 'leader', leadership, service };
      this.deps.leading?.(service);
      this.deps.logger.info({ epoch: leadership.epoch, environments: this.table.live.size, takeOverMs: Math.round(this.deps.clock.monotonic() - started) }, 'elected assignment leader');
    } catch (err) {
      this.deps.logger.error({ err }, 'taking over failed; resigning');
      this.role = { kind: 'follower' };
      await leadership.resign().catch(() => undefined);
    }
  }

  private stepDown(leadership: Leadership): void {
    if (this.role.kind !== 'leader' || this.role.leadership !== leadership) return;
    const { service } = this.role;
    this.deps.logger.warn({ epoch: leadership.epoch }, 'assignment leadership lost; following again');
    service.abdicate();
    this.deps.retired?.(service);
    this.role = { kind: 'follower' };
    this.table = new EnvironmentTable();
  }
}
