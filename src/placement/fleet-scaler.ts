import type { Clock, TimerHandle } from '../shared/clock.js';
import { isStratusError, StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { Metrics } from '../shared/metrics.js';
import type { WorkerProvider } from './worker-provider.js';

/** A worker holding a lease, as its latest heartbeat reported it. */
export interface FleetMember {
  id: string;
  memoryMb: number;
  reservedMb: number;
  environments: number;
  /** Invokes running on it now (absent: the worker does not report it; counted as busy). */
  busy?: number;
}

export interface FleetScalerConfig {
  minWorkers: number;
  maxWorkers: number;
  /** Scale out when reserved / total memory stays at or above this (0..1) ... */
  scaleOutAbove: number;
  /** ... scale in when it stays at or below this ... */
  scaleInBelow: number;
  /** ... for this long. */
  sustainMs: number;
  /** How often the fleet is looked at. */
  intervalMs: number;
  /** A started worker that has not joined after this long is removed again. */
  joinTimeoutMs: number;
  /** A drained worker with environments left (assignment grants none there and destroys idle ones) is removed once nothing runs on it and it has drained this long. */
  drainMaxMs: number;
  /** Zones new workers are spread over. */
  zones: string[];
}

export interface FleetScalerDeps {
  provider: WorkerProvider;
  /** The workers holding a lease now. */
  members(): FleetMember[];
  /** Stops (or resumes) placing new environments on a worker. */
  setDraining(workerId: string, draining: boolean): void;
  /** A worker the scaler stopped is gone: end its membership now rather than at its lease's end. */
  removed(workerId: string): void;
  /** Requests that found no worker with room since the last look (cold starts waiting, 429s): any counts as demand above the threshold. */
  unplaced?(): number | Promise<number>;
  /** Workers recorded as draining (the worker directory), read at each start until read: a new leader continues its predecessor's drains. */
  recordedDrains?(): Promise<string[]>;
  /** Publishes what assignment must know of this fleet (the memory of the workers it would add), at each start until done. */
  announce?(): Promise<void>;
  /** Fencing: whether this replica still leads (checked at each look and before each provider call; a deposed leader acts on nothing). Default: always. */
  mayAct?(): boolean;
  clock: Clock;
  log: Logger;
  metrics?: Metrics;
}

export type FleetAction = 'scale-out' | 'scale-in' | 'removed' | 'join-timeout';

interface Pending {
  zone: string;
  sinceMs: number;
}

/**
 * Grows and shrinks the fleet with traffic through a WorkerProvider, on the injected clock. Out:
 * one worker at a time while reserved memory (or unplaced demand) has stayed above the threshold
 * for `sustainMs`, up to `maxWorkers`. In: while it has stayed below for `sustainMs` and would
 * stay under the scale-out threshold without the worker, one worker the provider started is
 * drained (placement puts no new environment on it) and removed only once no environment is
 * left on it, or once it has drained `drainMaxMs` with no invoke running; never below
 * `minWorkers`. Every decision is logged and counted (`stratus_fleet_*`).
 */
export class FleetScaler {
  private readonly pending = new Map<string, Pending>();
  private readonly draining = new Map<string, number>();
  private readonly counts = new Map<FleetAction, number>();
  private highSinceMs: number | undefined;
  private lowSinceMs: number | undefined;
  private lastUtilization = 0;
  private timer: TimerHandle | undefined;
  private busy: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Each start's own timer chain: a look still finishing from before a stop cannot start a second one. */
  private generation = 0;
  /** This leadership announced the fleet and knows the recorded drains; until then it decides nothing. */
  private settled = false;

  constructor(private readonly config: FleetScalerConfig, private readonly deps: FleetScalerDeps) {
    if (config.minWorkers < 0 || config.maxWorkers < Math.max(1, config.minWorkers)) throw new Error('fleet: need 0 <= min <= max and max >= 1');
    if (!(config.scaleInBelow < config.scaleOutAbove)) throw new Error('fleet: the scale-in threshold must be below the scale-out one');
    deps.metrics?.gauge('stratus_fleet_workers', 'Workers of the fleet by state', ['state'], () => [
      [{ state: 'active' }, this.active().length], [{ state: 'starting' }, this.pending.size], [{ state: 'draining' }, this.draining.size],
    ]);
    deps.metrics?.gauge('stratus_fleet_reserved_ratio', 'Reserved over total memory of the workers not draining', [], () => [[{}, this.lastUtilization]]);
    deps.metrics?.counterReadOnScrape('stratus_fleet_decisions_total', 'Scaling decisions taken, by action', ['action'], () => [...this.counts].map(([action, n]) => [{ action }, n]));
  }

  /** Starts looking at the fleet, or looks again after `stop` (a placement replica that leads again). */
  start(): void {
    this.stopped = false;
    this.timer?.cancel();
    this.generation++;
    this.settled = false;
    if (!this.deps.provider.canScale) this.deps.log.info({ provider: this.deps.provider.kind }, 'fleet: the provider cannot add or remove workers; not scaling');
    this.busy = this.busy.then(async () => void (await this.settle()));
    this.schedule();
  }

  /** Stops looking; resolves once a look under way has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.busy;
    this.settled = false;
  }

  /** How often each action was taken. */
  decisions(): Record<FleetAction, number> {
    return { 'scale-out': this.counts.get('scale-out') ?? 0, 'scale-in': this.counts.get('scale-in') ?? 0, removed: this.counts.get('removed') ?? 0, 'join-timeout': this.counts.get('join-timeout') ?? 0 };
  }

  /** Whether this scaler drains the worker (begun by this leadership, or recorded by an earlier one). */
  isDraining(workerId: string): boolean {
    return this.draining.has(workerId);
  }

  /** A worker whose host the provider removed by itself (its process died): waited for (starting) or drained no more; the next look replaces it if the fleet needs one. */
  lost(workerId: string): void {
    this.pending.delete(workerId);
    this.draining.delete(workerId);
  }

  /** Whether this leadership knows every drain (read the recorded ones): `isDraining` false is then the truth too. */
  knowsDrains(): boolean {
    return this.settled;
  }

  /** One look at the fleet (the timer calls it; tests may too). */
  tick(): Promise<void> {
    this.busy = this.busy.then(() => this.look()).catch((err: unknown) => this.deps.log.warn({ err }, 'fleet: a scaling step failed'));
    return this.busy;
  }

  private schedule(generation = this.generation): void {
    // A provider that cannot scale is looked at only until what an earlier leader left is settled.
    if (this.stopped || generation !== this.generation || (this.settled && !this.deps.provider.canScale)) return;
    this.timer = this.deps.clock.setTimer(this.config.intervalMs, () => void this.tick().finally(() => this.schedule(generation)));
  }

  private active(): FleetMember[] {
    return this.deps.members().filter((m) => !this.draining.has(m.id));
  }

  private async look(): Promise<void> {
    if (!this.mayAct() || !(await this.settle()) || !this.deps.provider.canScale) return;
    const now = this.deps.clock.now();
    const members = this.deps.members();
    const byId = new Map(members.map((m) => [m.id, m]));
    for (const [id, p] of this.pending) {
      if (byId.has(id)) this.pending.delete(id);
      else if (now - p.sinceMs >= this.config.joinTimeoutMs) {
        this.pending.delete(id);
        this.decide('join-timeout', { worker: id, zone: p.zone }, 'fleet: a started worker did not join in time; removing it');
        await this.stopWorker(id);
      }
    }
    await this.finishDrains(byId, now);
    const active = this.active();
    const total = active.reduce((s, m) => s + m.memoryMb, 0);
    const reserved = active.reduce((s, m) => s + m.reservedMb, 0);
    const utilization = total > 0 ? reserved / total : 0;
    this.lastUtilization = utilization;
    const unplaced = (await this.deps.unplaced?.()) ?? 0;
    const size = active.length + this.pending.size;
    const facts = { utilization: Number(utilization.toFixed(3)), unplaced, workers: active.length, starting: this.pending.size, draining: this.draining.size };
    if (size < this.config.minWorkers) return this.scaleOut(now, { ...facts, reason: 'below the minimum' });
    const high = utilization >= this.config.scaleOutAbove || unplaced > 0;
    const low = !high && utilization <= this.config.scaleInBelow;
    this.highSinceMs = high ? (this.highSinceMs ?? now) : undefined;
    this.lowSinceMs = low ? (this.lowSinceMs ?? now) : undefined;
    if (high && now - (this.highSinceMs ?? now) >= this.config.sustainMs && this.pending.size === 0 && size < this.config.maxWorkers) {
      this.highSinceMs = now;
      return this.scaleOut(now, { ...facts, reason: unplaced > 0 ? 'requests found no room' : 'reserved memory above the threshold' });
    }
    if (low && now - (this.lowSinceMs ?? now) >= this.config.sustainMs && this.draining.size === 0 && this.pending.size === 0 && active.length > this.config.minWorkers) {
      const candidate = this.drainCandidate(active, total, reserved);
      if (!candidate) return;
      this.lowSinceMs = now;
      this.draining.set(candidate.id, now);
      this.deps.setDraining(candidate.id, true);
      this.decide('scale-in', { ...facts, worker: candidate.id, reason: 'reserved memory below the threshold' }, 'fleet: draining a worker');
    }
  }

  /**
   * Before its first decision a leadership settles what an earlier one left: it announces the fleet
   * and reads the recorded drains. Until both succeeded (etcd unsettled at a failover) every look
   * tries again and decides nothing: a drained worker counted as active would skew every figure.
   */
  private async settle(): Promise<boolean> {
    if (this.settled) return true;
    if (!this.mayAct()) return false;
    try {
      await this.deps.announce?.();
      const recorded = (await this.deps.recordedDrains?.()) ?? [];
      if (!this.mayAct()) return false;
      this.resumeDrains(recorded);
      this.settled = true;
    } catch (err) {
      this.deps.log.warn({ err }, 'fleet: reading the recorded drains (or announcing the fleet) failed; deciding nothing until the next look reads them');
    }
    return this.settled;
  }

  /**
   * The recorded drains of workers this provider started are this leadership's to finish (their
   * drain time starts again now); none other. Any other mark (a worker this provider cannot stop:
   * `static`'s, another replica's `local-hosts` one) no scaler can finish: it is cleared and the
   * worker is active again.
   */
  private resumeDrains(recorded: string[]): void {
    const now = this.deps.clock.now();
    const mine = new Set(this.deps.provider.list().map((w) => w.id));
    for (const id of this.draining.keys()) if (!recorded.includes(id)) this.draining.delete(id);
    for (const id of recorded) {
      if (!mine.has(id)) {
        this.draining.delete(id);
        this.deps.setDraining(id, false);
        this.deps.log.info({ component: 'fleet', worker: id }, 'fleet: cleared the drain mark of a worker this provider cannot stop; it is active again');
      } else if (!this.draining.has(id)) {
        this.draining.set(id, now);
        this.deps.log.info({ component: 'fleet', worker: id }, 'fleet: continuing the drain of a worker an earlier leader began');
      }
    }
  }

  /** Removes drained workers once nothing can run on them any more. */
  private async finishDrains(byId: Map<string, FleetMember>, now: number): Promise<void> {
    for (const [id, sinceMs] of [...this.draining]) {
      const m = byId.get(id);
      const done = !m || m.environments === 0 || (m.busy === 0 && now - sinceMs >= this.config.drainMaxMs);
      if (!done) continue;
      await this.stopWorker(id); // if it fails, the worker stays drained and the next look tries again
      this.draining.delete(id);
      this.deps.removed(id);
      this.decide('removed', { worker: id, environments: m?.environments ?? 0, drainedMs: now - sinceMs }, 'fleet: drained worker removed');
    }
  }

  /** Stops a worker through the provider; one the provider no longer has (ResourceNotFound) is already gone. */
  private async stopWorker(id: string): Promise<void> {
    this.fence();
    try {
      await this.deps.provider.stop(id);
    } catch (err) {
      if (!(isStratusError(err) && err.code === 'ResourceNotFound')) throw err;
      this.deps.log.info({ worker: id }, 'fleet: the provider no longer has the worker; taken as stopped');
    }
  }

  /**
   * A worker the provider started whose removal keeps the rest under the scale-out threshold:
   * the least reserved, then the one with the fewest environments.
   */
  private drainCandidate(active: FleetMember[], total: number, reserved: number): FleetMember | undefined {
    const mine = new Set(this.deps.provider.list().map((w) => w.id));
    return active
      .filter((m) => mine.has(m.id) && (total - m.memoryMb > 0 ? reserved / (total - m.memoryMb) < this.config.scaleOutAbove : reserved === 0))
      .sort((a, b) => a.reservedMb - b.reservedMb || a.environments - b.environments)[0];
  }

  private async scaleOut(now: number, facts: Record<string, unknown>): Promise<void> {
    const zone = this.emptiestZone();
    this.fence();
    const worker = await this.deps.provider.start({ zone });
    this.pending.set(worker.id, { zone, sinceMs: now });
    this.decide('scale-out', { ...facts, worker: worker.id, zone }, 'fleet: adding a worker');
  }

  /** The zone with the fewest workers, counting those starting (the provider's own view). */
  private emptiestZone(): string {
    const counts = new Map(this.config.zones.map((z) => [z, 0]));
    for (const w of this.deps.provider.list()) if (counts.has(w.zone) && !this.draining.has(w.id)) counts.set(w.zone, (counts.get(w.zone) ?? 0) + 1);
    return [...counts].sort((a, b) => a[1] - b[1])[0]?.[0] ?? 'default';
  }

  private mayAct(): boolean {
    return this.deps.mayAct?.() ?? true;
  }

  /** Before each provider call: a replica deposed during a look (paused, say) stops there. */
  private fence(): void {
    if (!this.mayAct()) throw new StratusError('Fenced', 'fleet: this placement replica no longer leads; not acting on workers');
  }

  private decide(action: FleetAction, facts: Record<string, unknown>, message: string): void {
    this.counts.set(action, (this.counts.get(action) ?? 0) + 1);
    this.deps.log.info({ component: 'fleet', action, ...facts }, message);
  }
}
