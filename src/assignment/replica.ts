import { Campaigner, type AppendLog, type Candidate, type LeaderElection, type Leadership } from '../journal/index.js';
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
 * until its leadership is lost — then it is a follower again and campaigns anew (the journal's
 * Campaigner: a failed take-over resigns and backs off).
 */
export class AssignmentReplica {
  private role: ReplicaRole = { kind: 'follower' };
  private table = new EnvironmentTable();
  private tailTimer: TimerHandle | undefined;
  private readonly campaigner: Campaigner;

  constructor(private readonly deps: ReplicaDeps) {
    const { election, candidate, clock, logger } = deps;
    this.campaigner = new Campaigner({ election, candidate, clock, log: logger, role: 'assignment', lead: (leadership) => this.takeOver(leadership) });
  }

  start(): void {
    this.tail();
    this.campaigner.start();
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

  /** Stops following; as leader, abdicates and resigns, so another replica takes over at once. */
  async stop(): Promise<void> {
    this.role = { kind: 'stopped' };
    this.tailTimer?.cancel();
    await this.campaigner.stop();
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

  /** Catches up with the log, hands the table to a new service; resolves what ends it (a rejection: the take-over failed). */
  private async takeOver(leadership: Leadership): Promise<() => Promise<void>> {
    const started = this.deps.clock.monotonic();
    if (this.role.kind === 'stopped') return async () => undefined;
    this.role = { kind: 'taking-over', leadership };
    let service: AssignmentService;
    try {
      await this.table.catchUp(this.deps.log);
      service = await this.deps.lead(leadership);
      await service.takeOver(this.table);
    } catch (err) {
      if (this.role.kind === 'taking-over') this.role = { kind: 'follower' };
      throw err;
    }
    const end = async () => this.stepDown(leadership, service);
    if (this.role.kind !== 'taking-over') return end;
    this.role = { kind: 'leader', leadership, service };
    this.deps.leading?.(service);
    this.deps.logger.info({ epoch: leadership.epoch, environments: this.table.live.size, takeOverMs: Math.round(this.deps.clock.monotonic() - started) }, 'assignment leader serving the environment table');
    return end;
  }

  /** The leadership ended (lost, or this replica stops): the service abdicates; a follower again unless stopping. */
  private stepDown(leadership: Leadership, service: AssignmentService): void {
    service.abdicate();
    if (this.role.kind === 'stopped') return;
    this.deps.logger.warn({ epoch: leadership.epoch }, 'assignment leadership lost; following again');
    this.deps.retired?.(service);
    this.role = { kind: 'follower' };
    this.table = new EnvironmentTable();
  }
}
