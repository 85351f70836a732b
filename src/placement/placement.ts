import type { Clock, TimerHandle } from '../shared/clock.js';
import type { WorkerAgent } from '../worker/index.js';

/** What placement needs to know to put a new environment somewhere. */
export interface PlacementRequest {
  memoryMb: number;
  codeSha256: string;
  /** What the environment is of (its environment key): environments of one group are spread across zones. */
  group?: string;
}

/** The zone of a worker that reports none. */
export const DEFAULT_ZONE = 'zone-a';

export interface LeaseConfig {
  clock: Clock;
  /** A remote worker that has not renewed its lease for this long is gone. */
  leaseMs: number;
}

interface Member {
  agent: WorkerAgent;
  reservedMb: number;
  /** Environments placed here, by group. */
  groups: Map<string, number>;
  /** When the worker's lease runs out; undefined for the in-process worker. */
  expiresAtMs?: number;
  /** Being drained by the fleet scaler: no new environment goes there. */
  draining?: boolean;
}

/**
 * Keeps the set of workers and chooses the one a new environment goes to: only workers with
 * room for its memory; among them, one in the zone that has the fewest environments of the same
 * group (so losing a zone leaves a function environments elsewhere), then one that has the code
 * cached, then the least loaded.
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
    const known = this.members.get(agent.id);
    this.members.set(agent.id, { agent, reservedMb: known?.reservedMb ?? 0, groups: known?.groups ?? new Map(), expiresAtMs, ...(known?.draining ? { draining: true } : {}) });
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
    const inZone = this.groupByZone(req.group);
    let best: { member: Member; spread: number; cached: boolean; free: number } | undefined;
    for (const member of this.members.values()) {
      if (member.draining) continue;
      const status = member.agent.status();
      const free = status.memoryMb - member.reservedMb;
      if (free < req.memoryMb) continue;
      const spread = inZone.get(status.zone ?? DEFAULT_ZONE) ?? 0;
      const cached = status.cachedCode.includes(req.codeSha256);
      if (!best || spread < best.spread || (spread === best.spread && ((cached && !best.cached) || (cached === best.cached && free > best.free)))) {
        best = { member, spread, cached, free };
      }
    }
    if (!best) return undefined;
    this.count(best.member, req.memoryMb, req.group, 1);
    return best.member.agent;
  }

  /** Stops (or resumes) placing new environments on a worker: it is being drained. */
  setDraining(workerId: string, draining: boolean): void {
    const member = this.members.get(workerId);
    if (member) member.draining = draining;
  }

  /** Whether the fleet scaler drains the worker (no environment of it may be granted any more). */
  isDraining(workerId: string): boolean {
    return this.members.get(workerId)?.draining === true;
  }

  /** The memory of the largest worker known, draining ones included (0 with none): what a new worker like them could hold. */
  largestWorkerMb(): number {
    let largest = 0;
    for (const member of this.members.values()) largest = Math.max(largest, member.agent.status().memoryMb);
    return largest;
  }

  /** The zone of each worker (as it last reported it). */
  zoneOf(workerId: string): string | undefined {
    const member = this.members.get(workerId);
    return member && (member.agent.status().zone ?? DEFAULT_ZONE);
  }

  /** Counts memory for an environment placed earlier (by a previous assignment leader). */
  reserve(workerId: string, memoryMb: number, group?: string): void {
    const member = this.members.get(workerId);
    if (member) this.count(member, memoryMb, group, 1);
  }

  /** Environments of `group` per zone, over every worker (full ones too). */
  private groupByZone(group: string | undefined): Map<string, number> {
    const zones = new Map<string, number>();
    if (group === undefined) return zones;
    for (const member of this.members.values()) {
      const zone = member.agent.status().zone ?? DEFAULT_ZONE;
      zones.set(zone, (zones.get(zone) ?? 0) + (member.groups.get(group) ?? 0));
    }
    return zones;
  }

  private count(member: Member, memoryMb: number, group: string | undefined, sign: 1 | -1): void {
    member.reservedMb = Math.max(0, member.reservedMb + sign * memoryMb);
    if (group === undefined) return;
    const n = (member.groups.get(group) ?? 0) + sign;
    if (n > 0) member.groups.set(group, n);
    else member.groups.delete(group);
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
  release(workerId: string, memoryMb: number, group?: string): void {
    const member = this.members.get(workerId);
    if (member) this.count(member, memoryMb, group, -1);
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
