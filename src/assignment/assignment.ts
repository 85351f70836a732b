import { randomUUID } from 'node:crypto';
import type { AppendLog, Leadership } from '../journal/index.js';
import type { PlacementService } from '../placement/index.js';
import { environmentKey, type FunctionVersion } from '../registry/index.js';
import type { Clock, TimerHandle } from '../shared/clock.js';
import type { AssignmentConfig } from '../shared/config.js';
import { StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { ATTR, NO_TRACER, type Tracer } from '../shared/tracing.js';
import type { LogGrants } from '../shared/log-grants.js';
import type { WorkerAgent } from '../worker/index.js';
import { AssignmentLogWriter } from './assignment-log.js';
import { CapacityQueue } from './capacity-queue.js';
import { environmentSpec } from './environment-spec.js';
import { executionOwner, type ConcurrencyLimiter } from './concurrency-limiter.js';
import type { CreatedEntry, EnvironmentEntry, EnvironmentTable } from './environments.js';
import { IdlePool, idleToReclaim, leastRecentlyUsedIdle } from './idle-pool.js';
import type { KeepAlivePolicy, Prewarm } from './keep-alive.js';
import { keepAlivePolicy } from './keep-alive-policy.js';
import type { AcquireOptions, Assigner, Lease } from './lease.js';
import { listEnvironments, type WorkerEnvironments } from './listing.js';
import { ProvisionedConcurrency } from './provisioned.js';
import { ScalingRate } from './scaling-rate.js';
import { destroyUnknown, surveyWorkers, TakeoverGrace } from './takeover.js';
import { UnplacedDemand } from './unplaced-demand.js';

export type { AcquireOptions, Assigner, Lease } from './lease.js';

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
  /** Spans of acquires that carry a trace (none: NO_TRACER). */
  tracer?: Tracer;
  /** Grants workers are given to post their environments' logs (`shared/log-grants.ts`); none in unit tests. */
  logGrants?: LogGrants;
  /** How long idle environments are kept (default: the one `config` names, keep-alive.ts). */
  keepAlive?: KeepAlivePolicy;
  /** The memory of a worker the fleet would add (the placement leader announces it; undefined: unknown, the largest known worker's). */
  newWorkerMb?(): number | undefined;
}

/** What a grant went through, for its span: waited in the capacity queue, the trace an environment it creates is traced under; and its environment key. */
interface GrantTrace { queued: boolean; trace?: string; key: string }

/**
 * Knows every execution environment: hands out idle warm ones (`IdlePool`), creates new ones
 * through placement (waiting in the `CapacityQueue` when no worker has room), keeps provisioned
 * ones topped up (`ProvisionedConcurrency`), reclaims idle ones and pre-warms per the keep-alive
 * policy (`KeepAlivePolicy`: fixed, or per-function idle-time histograms). Warm
 * acquire/release touch only memory; the journal is written (`AssignmentLogWriter`) when an
 * environment is created or destroyed.
 */
export class AssignmentService implements Assigner {
  private readonly envs = new Map<string, EnvironmentEntry>();
  private readonly idle = new IdlePool();
  private readonly capacity: CapacityQueue<Lease>;
  private readonly provisioned: ProvisionedConcurrency;
  private readonly journal: AssignmentLogWriter;
  private readonly scaling: ScalingRate;
  private readonly grace: TakeoverGrace;
  private readonly keepAlive: KeepAlivePolicy;
  /** Cold starts that found no room and that a worker the fleet would add could hold (the fleet scaler's demand; cli/cluster.ts publishes it). */
  readonly demand = new UnplacedDemand((memoryMb) => memoryMb <= (this.deps.newWorkerMb?.() ?? this.deps.placement.largestWorkerMb()));
  private sweepTimer: TimerHandle | undefined;
  /** Settles once the table is whole (after `start` or `takeOver`); joining workers wait for it. */
  private readonly whole: Promise<void>;
  private markWhole: () => void = () => {};

  constructor(private readonly deps: AssignmentDeps) {
    this.whole = new Promise((resolve) => (this.markWhole = resolve));
    this.scaling = new ScalingRate(deps.clock, deps.config.scalingBurst, deps.config.scalingWindowMs);
    this.capacity = new CapacityQueue(deps.clock);
    this.grace = new TakeoverGrace(deps.clock, deps.config.takeoverReleaseWaitMs);
    this.keepAlive = deps.keepAlive ?? keepAlivePolicy(deps.config);
    this.journal = new AssignmentLogWriter({
      log: deps.log, clock: deps.clock, logger: deps.logger, leadership: deps.leadership, compactEvery: deps.compactEvery,
      live: () => this.envs.values(),
    });
    this.provisioned = new ProvisionedConcurrency({
      environments: () => this.envs.values(),
      startOne: (fn, key) => this.provisionOne(fn, key),
      destroy: (env, reason) => void this.destroy(env, reason),
    });
  }

  /** One machine: environments a previous run left in the journal are closed. Then reaping starts. */
  async start(): Promise<void> {
    await this.journal.closePreviousRun();
    this.markWhole();
    this.scheduleSweep();
  }

  /**
   * A new leader: takes the table its replica followed (now caught up with the log) and
   * reconciles it with every worker, fencing out the previous leadership as it asks.
   * Environments a worker still runs stay warm; ones it lost are written off; ones the journal
   * never recorded are destroyed.
   */
  async takeOver(table: EnvironmentTable): Promise<void> {
    const plan = await surveyWorkers(this.deps.placement.workers(), table, this.deps.leadership?.epoch, this.deps.logger);
    for (const { entry, fate } of plan.recorded) {
      if (fate === 'gone') await this.journal.destroyed(entry.envId, 'gone at takeover');
      else this.adopt(entry, fate === 'busy');
    }
    for (const { worker, envId } of plan.strays) await worker.destroyEnvironment(envId, this.deps.leadership?.epoch).catch(() => undefined);
    this.grace.begin();
    this.markWhole();
    this.scheduleSweep();
  }

  /** A worker joined after takeover (or came back, or the fleet scaled out): cold starts waiting for room try it; environments it runs that no one knows go. */
  async workerJoined(worker: WorkerAgent): Promise<void> {
    // Before the takeover has adopted what the log records, every environment would look unknown.
    await this.whole;
    this.capacity.wakeWithin(worker.status().memoryMb);
    await destroyUnknown(worker, this.deps.leadership?.epoch, (envId) => this.envs.has(envId));
  }

  /** The leadership ended: stop granting and forget the table (the environments live on). */
  abdicate(): void {
    this.sweepTimer?.cancel();
    this.capacity.failAll(notLeader);
    this.envs.clear();
    this.idle.clear();
    this.provisioned.clear();
    this.keepAlive.clear();
  }

  /** An environment for one invocation, counted against the concurrency limits until released (and running for the keep-alive policy from its arrival until then, or its environment's end). */
  async acquire(fn: FunctionVersion, opts: AcquireOptions = {}): Promise<Lease> {
    const tracer = this.deps.tracer ?? NO_TRACER;
    const span = opts.trace !== undefined && tracer.enabled ? tracer.start('assignment.acquire', opts.trace) : undefined;
    const how: GrantTrace = { queued: false, trace: span?.traceparent, key: environmentKey(fn) };
    const leave = this.deps.limiter?.enter(fn);
    this.keepAlive.arrived(fn, how.key, this.deps.clock.now());
    try {
      const lease = await this.grant(fn, how);
      const env = this.envs.get(lease.envId);
      if (env) env.leave = leave;
      span?.set({ [ATTR.warm]: !lease.cold, [ATTR.queued]: how.queued, [ATTR.environmentId]: lease.envId, [ATTR.workerId]: lease.worker.id });
      return lease;
    } catch (err) {
      leave?.();
      this.keepAlive.abandoned(how.key);
      span?.set({ [ATTR.queued]: how.queued });
      span?.fail(err);
      throw err;
    } finally {
      span?.end();
    }
  }

  private async grant(fn: FunctionVersion, how: GrantTrace): Promise<Lease> {
    const standing = this.deps.leadership?.standing() ?? 'held';
    if (standing === 'lost') throw notLeader();
    const { key } = how;
    for (let envId = this.idle.pop(key); envId !== undefined; envId = this.idle.pop(key)) {
      const env = this.envs.get(envId);
      const worker = env && this.deps.placement.worker(env.workerId);
      if (env && worker && !this.deps.placement.isDraining(worker.id)) {
        env.state = { kind: 'busy' };
        return this.lease(env, worker, false);
      }
      if (env) void this.destroy(env, 'its worker is draining or gone'); // never granted on a worker about to be removed
    }
    if (standing === 'no-quorum') {
      throw new StratusError('JournalUnavailable', 'Stratus cannot start a new execution environment now: its journal has lost quorum. Warm environments keep serving.');
    }
    return this.create(fn, key, how);
  }

  /** Gives an environment back after an invocation; `reusable` false means it is gone. */
  release(lease: Pick<Lease, 'envId' | 'grant'>, reusable: boolean): void {
    const env = this.envs.get(lease.envId);
    // Unknown, or released already (a release retried across a failover): nothing to do.
    if (!env || env.state.kind === 'idle') return;
    // A late or repeated release of an earlier grant (retried, or of a deposed leadership) must
    // not free the grant that holds the environment now. One adopted busy at a takeover has no
    // grant of this leadership: the previous leadership's release frees it.
    if (env.grant !== undefined && env.grant !== lease.grant) return;
    env.grant = undefined;
    env.leave?.();
    env.leave = undefined;
    env.adoptedBusy = false;
    const now = this.deps.clock.now();
    // One booted ahead (provisioned, pre-warmed) served no invoke yet: the policy learns nothing of it.
    const window = env.aheadKeepMs === undefined ? this.keepAlive.ended(env, now) : { prewarmMs: 0, keepAliveMs: env.aheadKeepMs };
    env.aheadKeepMs = undefined;
    const draining = this.deps.placement.isDraining(env.workerId);
    if (!reusable || env.retired || draining) {
      void this.destroy(env, !reusable ? 'failed' : draining ? 'its worker is draining' : 'retired');
      return;
    }
    const worker = this.deps.placement.worker(env.workerId);
    const handed = worker !== undefined && this.capacity.handOver(env.key, () => {
      env.state = { kind: 'busy' };
      return this.lease(env, worker, false);
    });
    if (handed) return;
    if (window.prewarmMs > 0 && !env.provisioned) return void this.destroy(env, 'keep-alive: unloaded until its pre-warm');
    env.state = { kind: 'idle', sinceMs: now, untilMs: now + window.keepAliveMs };
    this.idle.push(env);
    this.capacity.wakeOne();
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
  retire(functionArn: string, version?: string, current?: string): void {
    this.provisioned.retire(functionArn, version, current);
    this.keepAlive.retire(functionArn, version, current);
    for (const env of this.envs.values()) {
      if (env.functionArn !== functionArn || (version !== undefined && env.version !== version) || env.key === current) continue;
      env.retired = true;
      if (env.state.kind === 'idle') void this.destroy(env, 'retired');
    }
  }

  environments(): Promise<WorkerEnvironments[]> {
    return listEnvironments(this.envs.values(), this.deps.placement.workers(), this.deps.clock.now());
  }

  snapshot(): EnvironmentEntry[] {
    return [...this.envs.values()].map((e) => ({ ...e, state: { ...e.state } }));
  }

  async shutdown(): Promise<void> {
    this.sweepTimer?.cancel();
    this.capacity.failAll(() => new StratusError('ServiceUnavailable', 'Stratus is shutting down.'));
    await Promise.all([...this.envs.values()].map((env) => this.destroy(env, 'shutdown')));
  }

  /** Reclaims environments idle past their keep-alive (or on a worker being drained); starts due pre-warms; tops up provisioned concurrency. */
  sweep(): void {
    const now = this.deps.clock.now();
    const draining = (workerId: string) => this.deps.placement.isDraining(workerId);
    for (const [env, reason] of idleToReclaim(this.envs.values(), now, this.deps.config.keepAliveMs, draining)) void this.destroy(env, reason);
    for (const due of this.keepAlive.duePrewarms(now)) this.prewarm(due);
    this.provisioned.reconcileAll();
  }

  /**
   * Provisioned concurrency: keep `count` environments of this version initialized ahead of
   * traffic (0 removes the target). They are topped up on every sweep if any is lost.
   */
  setProvisioned(fn: FunctionVersion, count: number): void {
    this.provisioned.set(fn, count);
  }

  /** Provisioned environments that exist for this version now. */
  provisionedCount(fn: FunctionVersion): number {
    return this.provisioned.count(fn);
  }

  private provisionOne(fn: FunctionVersion, key: string): boolean {
    const worker = this.placeEvicting(fn, key);
    if (worker) this.bootAhead(fn, key, worker, true, this.deps.config.keepAliveMs);
    return worker !== undefined;
  }

  /** A pre-warm the policy asked for: through the boot path, unless one is idle already or no worker has room (nothing is evicted for it). */
  private prewarm({ fn, key, keepAliveMs }: Prewarm): void {
    const worker = this.idle.has(key) ? undefined : this.deps.placement.place({ memoryMb: fn.memoryMb, codeSha256: fn.code.sha256, group: key });
    if (worker) this.bootAhead(fn, key, worker, false, keepAliveMs);
  }

  /** An environment booted ahead of traffic, then idle (a provisioned one until it is no longer wanted, any other for keepAliveMs). */
  private bootAhead(fn: FunctionVersion, key: string, worker: WorkerAgent, provisioned: boolean, keepAliveMs: number): void {
    this.boot(fn, key, worker, provisioned ? 'provisioned' : 'prewarm').then((lease) => {
      const env = this.envs.get(lease.envId);
      if (env) env.aheadKeepMs = keepAliveMs;
      this.release(lease, true);
    }, (err: unknown) => this.deps.logger.warn({ err, function: fn.name }, provisioned ? 'provisioning an environment failed' : 'pre-warming an environment failed'));
  }

  /**
   * A cold start. With no room on any worker, the least recently used idle environment (of any
   * function) is evicted first; if there is none, the request waits for room (or for an
   * environment of its own key to come back) up to capacityWaitMs, then gets 429.
   */
  private async create(fn: FunctionVersion, key: string, how: GrantTrace): Promise<Lease> {
    const releaseDue = this.grace.lateReleaseDeadline(key, this.envs.values());
    if (releaseDue !== undefined) {
      how.queued = true;
      const handed = await this.capacity.wait(key, releaseDue, fn.memoryMb).catch(() => undefined);
      if (handed) return handed;
    }
    if (!this.scaling.take(fn.functionArn)) {
      throw new StratusError('TooManyRequests', 'Rate Exceeded.', { details: { Reason: 'FunctionInvocationRateLimitExceeded' } });
    }
    const deadline = this.deps.clock.now() + this.deps.config.capacityWaitMs;
    for (let first = true; ; first = false) {
      const worker = this.placeEvicting(fn, key);
      if (worker) return this.boot(fn, key, worker, undefined, how.trace);
      how.queued = true;
      const handed = await this.demand.waitForRoom(fn.memoryMb, first, this.capacity.wait(key, deadline, fn.memoryMb));
      if (handed) return handed;
    }
  }

  private placeEvicting(fn: FunctionVersion, key: string): WorkerAgent | undefined {
    const request = { memoryMb: fn.memoryMb, codeSha256: fn.code.sha256, group: key };
    let worker = this.deps.placement.place(request);
    for (let victim = leastRecentlyUsedIdle(this.envs.values()); !worker && victim; victim = leastRecentlyUsedIdle(this.envs.values())) {
      void this.destroy(victim, 'evicted for memory');
      worker = this.deps.placement.place(request);
    }
    return worker;
  }

  /** The one place an environment is created on a worker. */
  private async boot(fn: FunctionVersion, key: string, worker: WorkerAgent, ahead?: 'provisioned' | 'prewarm', trace?: string): Promise<Lease> {
    const env: EnvironmentEntry = {
      id: randomUUID(), key, functionArn: fn.functionArn, version: fn.version, workerId: worker.id, memoryMb: fn.memoryMb,
      state: { kind: 'initializing' }, retired: false, provisioned: ahead === 'provisioned', createdAtMs: this.deps.clock.now(),
    };
    this.envs.set(env.id, env);
    try {
      await this.journal.created(env);
      await worker.createEnvironment(env.id, environmentSpec(fn, this.deps.logGrants && ((account, group) => this.deps.logGrants!.grant(worker.id, account, group))), {
        initType: env.provisioned ? 'provisioned-concurrency' : 'on-demand', epoch: this.deps.leadership?.epoch, ...(trace === undefined ? {} : { trace }), ...(ahead === 'prewarm' ? { prewarm: true } : {}),
      });
    } catch (err) {
      await this.destroy(env, 'create failed');
      throw err;
    }
    return this.lease(env, worker, true);
  }

  /** An environment from the journal that its worker still runs. */
  private adopt(entry: CreatedEntry, busy: boolean): void {
    const env: EnvironmentEntry = {
      id: entry.envId, key: entry.key, functionArn: entry.functionArn, version: entry.version, workerId: entry.workerId,
      memoryMb: entry.memoryMb, retired: false, provisioned: entry.provisioned, adoptedBusy: busy, createdAtMs: entry.atMs,
      state: busy ? { kind: 'busy' } : { kind: 'idle', sinceMs: this.deps.clock.now() },
    };
    if (busy) env.leave = this.deps.limiter?.enterAnyway(executionOwner(env.functionArn));
    this.envs.set(env.id, env);
    this.deps.placement.reserve(env.workerId, env.memoryMb, env.key);
    if (!busy) this.idle.push(env);
  }

  private async destroy(env: EnvironmentEntry, reason: string): Promise<void> {
    if (env.state.kind === 'dead') return;
    if (env.grant !== undefined && env.aheadKeepMs === undefined) this.keepAlive.abandoned(env.key); // its invoke will never end
    env.state = { kind: 'dead' };
    env.leave?.();
    this.envs.delete(env.id);
    this.idle.remove(env);
    this.deps.placement.release(env.workerId, env.memoryMb, env.key);
    this.capacity.wakeOne();
    try {
      await this.journal.destroyed(env.id, reason);
      await this.deps.placement.worker(env.workerId)?.destroyEnvironment(env.id, this.deps.leadership?.epoch);
    } catch (err) {
      this.deps.logger.warn({ err, envId: env.id }, 'destroying environment failed');
    }
  }

  /** A new grant of `env` (busy, or initializing on a cold start): the lease its release must show. */
  private lease(env: EnvironmentEntry, worker: WorkerAgent, cold: boolean): Lease {
    env.grant = randomUUID();
    return { envId: env.id, worker, cold, epoch: this.deps.leadership?.epoch, grant: env.grant };
  }

  private scheduleSweep(): void {
    this.sweepTimer = this.deps.clock.setTimer(this.deps.config.sweepIntervalMs, () => {
      this.sweep();
      this.scheduleSweep();
    });
  }
}

function notLeader(): StratusError {
  return new StratusError('NotLeader', 'This assignment replica is not the leader.');
}
