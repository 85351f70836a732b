import type { Clock, TimerHandle } from '../shared/clock.js';
import type { WorkerAgent } from '../worker/index.js';

/** What placement needs to know to put a new environment somewhere. */
export interface PlacementRequest {
  memoryMb: number;
  codeSha256: string;
}

export interface LeaseConfig {
  clock: Clock;
  /** A remote worker that has not renewed its lease for this long is gone. */
  leaseMs: number;
}

interface Member {
  agent: WorkerAgent;
  reservedMb: number;
  /** When the worker's lease runs out; undefined for the in-process worker. */
  expiresAtMs?: number;
  /** Being drained by the fleet scaler: no new environment goes there. */
  draining?: boolean;
}

/**
 * Keeps the set of workers and chooses the one a new environment goes to: only workers with
 * room for its memory; among them, one that has the code cached, then the least loaded.
 * Remote workers hold time-bounded leases renewed by heartbeat; an expired lease removes the
 * worker and tells the listeners (assignment marks its environments dead).
 */
export class PlacementService {
  private readonly members = new Map<string, Member>();
  private readonly lostListeners: ((workerId: string) => void)[] = [];
  private sweepTimer: TimerHandle | undefined;

  constructor(private readonly leases?: LeaseConfig) {}

  /** Adds a worker; `leased` workers must renew() within leaseMs or they are dropped. */
  register(agent: WorkerAgent, opts: { leased?: boolean } = {}): void {
    const expiresAtMs = opts.leased && this.leases ? this.leases.clock.now() + this.leases.leaseMs : undefined;
    this.members.set(agent.id, { agent, reservedMb: this.members.get(agent.id)?.reservedMb ?? 0, expiresAtMs });
    if (expiresAtMs !== undefined) this.scheduleSweep();
  }

  /** A heartbeat: extends the worker's lease. False if the worker is not (or no longer) known. */
  renew(workerId: string): boolean {
    const member = this.members.get(workerId);
    if (!member || !this.leases) return false;
    if (member.expiresAtMs !== undefined) member.expiresAtMs = this.leases.clock.now() + this.leases.leaseMs;
    return true;
  }

  onWorkerLost(listener: (workerId: string) => void): void {
    this.lostListeners.push(listener);
  }

  deregister(workerId: string): void {
    this.members.delete(workerId);
  }

  worker(workerId: string): WorkerAgent | undefined {
    return this.members.get(workerId)?.agent;
  }

  workers(): WorkerAgent[] {
    return [...this.members.values()].map((m) => m.agent);
  }

  /** Picks a worker and reserves the memory on it; undefined if no worker has room. */
  place(req: PlacementRequest): WorkerAgent | undefined {
    let best: { member: Member; cached: boolean; free: number } | undefined;
    for (const member of this.members.values()) {
      if (member.draining) continue;
      const status = member.agent.status();
      const free = status.memoryMb - member.reservedMb;
      if (free < req.memoryMb) continue;
      const cached = status.cachedCode.includes(req.codeSha256);
      if (!best || (cached && !best.cached) || (cached === best.cached && free > best.free)) best = { member, cached, free };
    }
    if (!best) return undefined;
    best.member.reservedMb += req.memoryMb;
    return best.member.agent;
  }

  /** Stops (or resumes) placing new environments on a worker: it is being drained. */
  setDraining(workerId: string, draining: boolean): void {
    const member = this.members.get(workerId);
    if (member) member.draining = draining;
  }

  /** Counts memory for an environment placed earlier (by a previous assignment leader). */
  reserve(workerId: string, memoryMb: number): void {
    const member = this.members.get(workerId);
    if (member) member.reservedMb += memoryMb;
  }

  /** The worker is gone (its membership ended elsewhere): drop it and tell the listeners. */
  remove(workerId: string): void {
    const member = this.members.get(workerId);
    if (!member) return;
    this.members.delete(workerId);
    void member.agent.shutdown();
    for (const listener of this.lostListeners) listener(workerId);
  }

  /** Returns memory reserved by `place` once the environment is gone. */
  release(workerId: string, memoryMb: number): void {
    const member = this.members.get(workerId);
    if (member) member.reservedMb = Math.max(0, member.reservedMb - memoryMb);
  }

  /** Drops workers whose lease ran out. */
  sweep(): void {
    if (!this.leases) return;
    const now = this.leases.clock.now();
    for (const [id, member] of this.members) {
      if (member.expiresAtMs === undefined || member.expiresAtMs > now) continue;
      this.remove(id);
    }
  }

  stop(): void {
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
  }

  private scheduleSweep(): void {
    if (this.sweepTimer || !this.leases) return;
    const every = Math.max(50, Math.floor(this.leases.leaseMs / 4));
    this.sweepTimer = this.leases.clock.setTimer(every, () => {
      this.sweepTimer = undefined;
      this.sweep();
      if ([...this.members.values()].some((m) => m.expiresAtMs !== undefined)) this.scheduleSweep();
    });
  }
}
