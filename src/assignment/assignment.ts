import { randomUUID } from 'node:crypto';
import type { AppendLog, Leadership } from '../journal/index.js';
import type { PlacementService } from '../placement/index.js';
import { environmentKey, type FunctionVersion } from '../registry/index.js';
import type { Clock, TimerHandle } from '../shared/clock.js';
import type { AssignmentConfig } from '../shared/config.js';
import { StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { WorkerAgent } from '../worker/index.js';
import { environmentSpec } from './environment-spec.js';
import { EnvironmentTable, type AssignmentLogEntry, type CreatedEntry, type EnvironmentEntry } from './environments.js';
import type { ConcurrencyLimiter } from './concurrency-limiter.js';
import { ScalingRate } from './scaling-rate.js';

interface Waiter {
  key: string;
  wake(lease: Lease | undefined): void;
  fail(err: Error): void;
}

/** An environment handed to one invocation; give it back with `release`. */
export interface Lease {
  envId: string;
  worker: WorkerAgent;
  cold: boolean;
  /** The fencing epoch of the leadership that granted it (a cluster); the worker checks it. */
  epoch?: number;
}

/** What the invoke path needs of assignment: the service itself, or a client of its leader. */
export interface Assigner {
  acquire(fn: FunctionVersion): Promise<Lease>;
  release(lease: Pick<Lease, 'envId'>, reusable: boolean): void;
}

export interface AssignmentDeps {
  config: AssignmentConfig;
  log: AppendLog;
  placement: PlacementService;
  clock: Clock;
  logger: Logger;
  /** The leadership this service acts under (a cluster replica); none on one machine. */
  leadership?: Leadership;
  /** Appends between two snapshots of the table (log compaction). */
  compactEvery?: number;
  /** Reserved and account concurrency, counted per granted environment. */
  limiter?: ConcurrencyLimiter;
}

/**
 * Knows every execution environment: hands out idle warm ones, creates new ones through
 * placement, reclaims idle ones after the keep-alive. Warm acquire/release touch only memory;
 * the journal is written when an environment is created or destroyed.
 */
export class AssignmentService implements Assigner {
  private readonly envs = new Map<string, EnvironmentEntry>();
  /** Idle environments per key, most recently used last. */
  private readonly idle = new Map<string, string[]>();
  private sweepTimer: TimerHandle | undefined;
  /** Provisioned concurrency targets per environment key. */
  private readonly provisionTargets = new Map<string, { fn: FunctionVersion; count: number }>();
  /** Cold starts waiting for room on a worker, oldest first. */
  private readonly waiters: Waiter[] = [];

  private readonly scaling: ScalingRate;
  private appendsSinceSnapshot = 0;
  /** When this service took over from a previous leader (-Infinity: it did not). */
  private takenOverAtMs = -Infinity;
  private compacting = false;

  constructor(private readonly deps: AssignmentDeps) {
    this.scaling = new ScalingRate(deps.clock, deps.config.scalingBurst, deps.config.scalingWindowMs);
  }

  /**
   * One machine: the worker restarted with this process, so every environment the journal
   * lists is gone; the log is compacted to an empty table. Then reaping starts.
   */
  async start(): Promise<void> {
    const table = new EnvironmentTable();
    await table.catchUp(this.deps.log);
    if (table.seq > 0) await this.deps.log.compact({ seq: table.seq, state: [] });
    this.scheduleSweep();
  }

  /**
   * A new leader: takes the table its replica followed (now caught up with the log) and
   * reconciles it with every worker, fencing out the previous leadership as it asks.
   * Environments a worker still runs stay warm; ones it lost are written off; ones the journal
   * never recorded are destroyed.
   */
  async takeOver(table: EnvironmentTable): Promise<void> {
    const reports = await Promise.all(this.deps.placement.workers().map(async (worker) => {
      try {
        return { worker, envs: await worker.environments(this.deps.leadership?.epoch) };
      } catch (err) {
        this.deps.logger.warn({ err, worker: worker.id }, 'takeover: worker did not answer; its environments are written off');
        return { worker, envs: [] };
      }
    }));
    const onWorkers = new Map(reports.flatMap(({ worker, envs }) => envs.map((e) => [e.envId, { worker, busy: e.busy }] as const)));
    for (const entry of table.live.values()) {
      const found = onWorkers.get(entry.envId);
      onWorkers.delete(entry.envId);
      if (!found || found.worker.id !== entry.workerId) {
        await this.append(this.destroyedEntry(entry.envId, 'gone at takeover'));
        continue;
      }
      this.adopt(entry, found.busy);
    }
    for (const [envId, { worker }] of onWorkers) await worker.destroyEnvironment(envId).catch(() => undefined);
    this.takenOverAtMs = this.deps.clock.now();
    this.scheduleSweep();
  }

  /** A worker joined after takeover (or came back): environments it runs that no one knows go. */
  async workerJoined(worker: WorkerAgent): Promise<void> {
    const envs = await worker.environments(this.deps.leadership?.epoch);
    for (const { envId } of envs) if (!this.envs.has(envId)) await worker.destroyEnvironment(envId).catch(() => undefined);
  }

  /** The leadership ended: stop granting and forget the table (the environments live on). */
  abdicate(): void {
    this.sweepTimer?.cancel();
    for (const waiter of this.waiters.splice(0)) waiter.fail(notLeader());
    this.envs.clear();
    this.idle.clear();
    this.provisionTargets.clear();
  }

  /** An environment for one invocation, counted against the concurrency limits until released. */
  async acquire(fn: FunctionVersion): Promise<Lease> {
    const leave = this.deps.limiter?.enter(fn.name);
    try {
      const lease = await this.grant(fn);
      const env = this.envs.get(lease.envId);
      if (env) env.leave = leave;
      return lease;
    } catch (err) {
      leave?.();
      throw err;
    }
  }

  private async grant(fn: FunctionVersion): Promise<Lease> {
    const standing = this.deps.leadership?.standing() ?? 'held';
    if (standing === 'lost') throw notLeader();
    const key = environmentKey(fn);
    const envId = this.idle.get(key)?.pop();
    if (envId) {
      const env = this.envs.get(envId);
      const worker = env && this.deps.placement.worker(env.workerId);
      if (env && worker) {
        env.state = { kind: 'busy' };
        return { envId, worker, cold: false, epoch: this.deps.leadership?.epoch };
      }
    }
    if (standing === 'no-quorum') {
      throw new StratusError('JournalUnavailable', 'Stratus cannot start a new execution environment now: its journal has lost quorum. Warm environments keep serving.');
    }
    return this.create(fn, key);
  }

  /** Gives an environment back after an invocation; `reusable` false means it is gone. */
  release(lease: Pick<Lease, 'envId'>, reusable: boolean): void {
    const env = this.envs.get(lease.envId);
    // Unknown, or released already (a release retried across a failover): nothing to do.
    if (!env || env.state.kind === 'idle') return;
    env.leave?.();
    env.leave = undefined;
    env.adoptedBusy = false;
    if (!reusable || env.retired) {
      void this.destroy(env, reusable ? 'retired' : 'failed');
      return;
    }
    const waiting = this.waiters.findIndex((w) => w.key === env.key);
    const worker = this.deps.placement.worker(env.workerId);
    if (waiting >= 0 && worker) {
      env.state = { kind: 'busy' };
      this.waiters.splice(waiting, 1)[0]?.wake({ envId: env.id, worker, cold: false, epoch: this.deps.leadership?.epoch });
      return;
    }
    env.state = { kind: 'idle', sinceMs: this.deps.clock.now() };
    const stack = this.idle.get(env.key) ?? [];
    stack.push(env.id);
    this.idle.set(env.key, stack);
    this.wakeOne();
  }

  /** A worker reports that an environment ended on its own: an idle one is dropped at once. */
  environmentLost(envId: string): void {
    const env = this.envs.get(envId);
    if (env?.state.kind === 'idle') void this.destroy(env, 'lost');
  }

  /** A worker's lease ran out: every environment on it is dead, busy ones included. */
  workerLost(workerId: string): void {
    for (const env of this.envs.values()) if (env.workerId === workerId) void this.destroy(env, 'worker lost');
  }

  /**
   * The function changed or went away: its environments must not serve new invokes. With a
   * version, only that version's environments (e.g. $LATEST after an update, or a deleted version).
   * `current` is the environment key of the function as it is now: those environments stay (a
   * change notice can arrive late, from another process, after they were created).
   */
  retire(functionName: string, version?: string, current?: string): void {
    for (const [key, target] of this.provisionTargets) {
      if (key !== current && target.fn.name === functionName && (version === undefined || target.fn.version === version)) this.provisionTargets.delete(key);
    }
    for (const env of this.envs.values()) {
      if (env.functionName !== functionName || (version !== undefined && env.version !== version) || env.key === current) continue;
      env.retired = true;
      if (env.state.kind === 'idle') void this.destroy(env, 'retired');
    }
  }

  snapshot(): EnvironmentEntry[] {
    return [...this.envs.values()].map((e) => ({ ...e, state: { ...e.state } }));
  }

  async shutdown(): Promise<void> {
    this.sweepTimer?.cancel();
    for (const waiter of this.waiters.splice(0)) waiter.fail(new StratusError('ServiceUnavailable', 'Stratus is shutting down.'));
    await Promise.all([...this.envs.values()].map((env) => this.destroy(env, 'shutdown')));
  }

  /** Reclaims environments idle for longer than the keep-alive. */
  sweep(): void {
    const cutoff = this.deps.clock.now() - this.deps.config.keepAliveMs;
    for (const env of this.envs.values()) {
      if (env.state.kind === 'idle' && !env.provisioned && env.state.sinceMs <= cutoff) void this.destroy(env, 'keep-alive expired');
    }
    for (const key of this.provisionTargets.keys()) this.reconcile(key);
  }

  /**
   * Provisioned concurrency: keep `count` environments of this version initialized ahead of
   * traffic (0 removes the target). They are topped up on every sweep if any is lost.
   */
  setProvisioned(fn: FunctionVersion, count: number): void {
    const key = environmentKey(fn);
    if (count > 0) this.provisionTargets.set(key, { fn, count });
    else this.provisionTargets.delete(key);
    this.reconcile(key);
  }

  /** Provisioned environments that exist for this version now. */
  provisionedCount(fn: FunctionVersion): number {
    const key = environmentKey(fn);
    let n = 0;
    for (const env of this.envs.values()) if (env.key === key && env.provisioned && env.state.kind !== 'initializing') n++;
    return n;
  }

  private reconcile(key: string): void {
    const target = this.provisionTargets.get(key);
    const mine = [...this.envs.values()].filter((e) => e.key === key && e.provisioned);
    const wanted = target?.count ?? 0;
    for (const extra of mine.slice(wanted)) {
      if (extra.state.kind === 'idle') void this.destroy(extra, 'provisioned concurrency lowered');
      else extra.provisioned = false;
    }
    for (let i = mine.length; target && i < wanted; i++) {
      const worker = this.placeEvicting(target.fn);
      if (!worker) break;
      this.boot(target.fn, key, worker, true).then(
        (lease) => this.release(lease, true),
        (err: unknown) => this.deps.logger.warn({ err, function: target.fn.name }, 'provisioning an environment failed'),
      );
    }
  }

  /**
   * A cold start. With no room on any worker, the least recently used idle environment (of any
   * function) is evicted first; if there is none, the request waits for room (or for an
   * environment of its own key to come back) up to capacityWaitMs, then gets 429.
   */
  private async create(fn: FunctionVersion, key: string): Promise<Lease> {
    const releaseDue = this.lateReleaseDeadline(key);
    if (releaseDue !== undefined) {
      const handed = await this.waitForCapacity(key, releaseDue).catch(() => undefined);
      if (handed) return handed;
    }
    if (!this.scaling.take(fn.name)) {
      throw new StratusError('TooManyRequests', 'Rate Exceeded.', { details: { Reason: 'FunctionInvocationRateLimitExceeded' } });
    }
    const deadline = this.deps.clock.now() + this.deps.config.capacityWaitMs;
    for (;;) {
      const worker = this.placeEvicting(fn);
      if (worker) return this.boot(fn, key, worker);
      const handed = await this.waitForCapacity(key, deadline);
      if (handed) return handed;
    }
  }

  private placeEvicting(fn: FunctionVersion): WorkerAgent | undefined {
    const request = { memoryMb: fn.memoryMb, codeSha256: fn.code.sha256 };
    let worker = this.deps.placement.place(request);
    for (let victim = this.leastRecentlyUsedIdle(); !worker && victim; victim = this.leastRecentlyUsedIdle()) {
      void this.destroy(victim, 'evicted for memory');
      worker = this.deps.placement.place(request);
    }
    return worker;
  }

  private leastRecentlyUsedIdle(): EnvironmentEntry | undefined {
    let lru: EnvironmentEntry | undefined;
    for (const env of this.envs.values()) {
      if (env.state.kind !== 'idle' || env.provisioned) continue;
      if (lru?.state.kind !== 'idle' || env.state.sinceMs < lru.state.sinceMs) lru = env;
    }
    return lru;
  }

  /** Resolves with an environment handed over, or undefined to try placing again. */
  private waitForCapacity(key: string, deadlineMs: number): Promise<Lease | undefined> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        key,
        wake: (lease) => {
          timer.cancel();
          resolve(lease);
        },
        fail: (err) => {
          timer.cancel();
          reject(err);
        },
      };
      const timer = this.deps.clock.setTimer(Math.max(0, deadlineMs - this.deps.clock.now()), () => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new StratusError('TooManyRequests', 'Rate Exceeded.', { details: { Reason: 'ConcurrentInvocationLimitExceeded' } }));
      });
      this.waiters.push(waiter);
    });
  }

  /**
   * Just after a takeover, environments that were busy at the old leader come back as their
   * invocations end, their releases delayed by the failover (a frontend learns of the new leader
   * a moment later, and a client's next invoke may reach another frontend first). A cold start
   * of such a key waits for one of them, briefly, instead of starting a new environment.
   */
  private lateReleaseDeadline(key: string): number | undefined {
    const until = this.takenOverAtMs + this.deps.config.takeoverReleaseWaitMs;
    if (this.deps.clock.now() >= until) return undefined;
    const pending = [...this.envs.values()].some((e) => e.key === key && e.adoptedBusy && e.state.kind === 'busy');
    return pending ? until : undefined;
  }

  /** Lets the first waiter try again (room was freed, or an idle environment could be evicted). */
  private wakeOne(): void {
    this.waiters.shift()?.wake(undefined);
  }

  private async boot(fn: FunctionVersion, key: string, worker: WorkerAgent, provisioned = false): Promise<Lease> {
    const env: EnvironmentEntry = {
      id: randomUUID(), key, functionName: fn.name, version: fn.version, workerId: worker.id, memoryMb: fn.memoryMb,
      state: { kind: 'initializing' }, retired: false, provisioned,
    };
    this.envs.set(env.id, env);
    try {
      await this.append(createdEntry(env, this.deps.clock.now()));
      await worker.createEnvironment(env.id, environmentSpec(fn), { initType: provisioned ? 'provisioned-concurrency' : 'on-demand' });
    } catch (err) {
      await this.destroy(env, 'create failed');
      throw err;
    }
    return { envId: env.id, worker, cold: true, epoch: this.deps.leadership?.epoch };
  }

  /** An environment from the journal that its worker still runs. */
  private adopt(entry: CreatedEntry, busy: boolean): void {
    const env: EnvironmentEntry = {
      id: entry.envId, key: entry.key, functionName: entry.functionName, version: entry.version, workerId: entry.workerId,
      memoryMb: entry.memoryMb, retired: false, provisioned: entry.provisioned, adoptedBusy: busy,
      state: busy ? { kind: 'busy' } : { kind: 'idle', sinceMs: this.deps.clock.now() },
    };
    if (busy) env.leave = this.deps.limiter?.enterAnyway(env.functionName);
    this.envs.set(env.id, env);
    this.deps.placement.reserve(env.workerId, env.memoryMb);
    if (!busy) this.idle.set(env.key, [...(this.idle.get(env.key) ?? []), env.id]);
  }

  /** Appends under the leadership's fence; every so often, snapshots the table and compacts. */
  private async append(entry: AssignmentLogEntry): Promise<void> {
    const seq = await this.deps.log.append(entry, this.deps.leadership);
    if (++this.appendsSinceSnapshot < (this.deps.compactEvery ?? 1000) || this.compacting) return;
    this.appendsSinceSnapshot = 0;
    this.compacting = true;
    const now = this.deps.clock.now();
    const state = [...this.envs.values()].map((env) => createdEntry(env, now));
    await this.deps.log.compact({ seq, state }, this.deps.leadership)
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'compacting the assignment log failed'))
      .finally(() => { this.compacting = false; });
  }

  private async destroy(env: EnvironmentEntry, reason: string): Promise<void> {
    if (env.state.kind === 'dead') return;
    env.state = { kind: 'dead' };
    env.leave?.();
    this.envs.delete(env.id);
    const stack = this.idle.get(env.key);
    if (stack) {
      const rest = stack.filter((id) => id !== env.id);
      if (rest.length > 0) this.idle.set(env.key, rest);
      else this.idle.delete(env.key);
    }
    this.deps.placement.release(env.workerId, env.memoryMb);
    this.wakeOne();
    try {
      await this.append(this.destroyedEntry(env.id, reason));
      await this.deps.placement.worker(env.workerId)?.destroyEnvironment(env.id);
    } catch (err) {
      this.deps.logger.warn({ err, envId: env.id }, 'destroying environment failed');
    }
  }

  private destroyedEntry(envId: string, reason: string): AssignmentLogEntry {
    return { type: 'destroyed', envId, atMs: this.deps.clock.now(), reason };
  }

  private scheduleSweep(): void {
    this.sweepTimer = this.deps.clock.setTimer(this.deps.config.sweepIntervalMs, () => {
      this.sweep();
      this.scheduleSweep();
    });
  }
}

function createdEntry(env: EnvironmentEntry, atMs: number): CreatedEntry {
  return {
    type: 'created', envId: env.id, key: env.key, functionName: env.functionName, version: env.version,
    workerId: env.workerId, memoryMb: env.memoryMb, provisioned: env.provisioned, atMs,
  };
}

function notLeader(): StratusError {
  return new StratusError('NotLeader', 'This assignment replica is not the leader.');
}
