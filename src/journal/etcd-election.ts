import type { Etcd3, ICompare, IOperation, ITxnResponse, Namespace } from 'etcd3';
import type { Clock, TimerHandle } from '../shared/clock.js';
import { StratusError, isStratusError } from '../shared/errors.js';
import { commitTxn, createdAt, etcdCall, resumableWatch, startWatch } from '../shared/etcd.js';
import type { EtcdQuorumProbe } from './etcd-probe.js';
import type { Candidate, LeaderElection, Leadership, LeadershipStanding } from './journal.js';

const tickMs = 100;
const probeTimeoutMs = 250;

export interface EtcdElectionDeps {
  client: Etcd3;
  /** The journal's namespace; the election key is `elections/<name>` under it. */
  root: Namespace;
  probe: EtcdQuorumProbe;
  clock: Clock;
  callTimeoutMs: number;
  /** The leaderships of this journal that are not lost yet (closing the journal abandons them). */
  active: Set<EtcdLeadership>;
}

/**
 * Leader election on one etcd key that lives as long as the leader's lease: whoever creates
 * it (compare create_revision == 0) leads, and the key's create revision is the epoch. Others
 * watch the key for its deletion (resignation or lease expiry) and try again.
 */
export class EtcdElection implements LeaderElection {
  private readonly key: string;

  constructor(private readonly deps: EtcdElectionDeps, name: string, private readonly ttlMs: number) {
    this.key = `elections/${name}`;
  }

  async campaign(candidate: Candidate, signal?: AbortSignal): Promise<Leadership> {
    for (;;) {
      signal?.throwIfAborted();
      try {
        const won = await this.tryOnce(candidate);
        if (won.leadership) return won.leadership;
        await this.waitForVacancy(won.seenAtRevision + 1, signal);
      } catch (e) {
        if (!isStratusError(e) || e.code !== 'JournalUnavailable') throw e;
        await sleep(this.deps.clock, Math.min(this.ttlMs / 3, 500), signal);
      }
    }
  }

  async leader(): Promise<Candidate | undefined> {
    const value = await etcdCall('leader', () => this.deps.root.get(this.key).string());
    return value === null ? undefined : (JSON.parse(value) as Candidate);
  }

  /** Every change of leader; after etcd cancelled the watcher (see `resumableWatch`), the leader then first. */
  watchLeader(listener: (leader: Candidate | undefined) => void): Promise<() => void> {
    return resumableWatch(async (catchingUp) => {
      const res = await etcdCall('leader', () => this.deps.root.get(this.key).exec());
      const value = res.kvs[0]?.value;
      if (catchingUp) listener(value === undefined ? undefined : (JSON.parse(value.toString()) as Candidate));
      const watcher = await startWatch(this.deps.root.watch().key(this.key).startRevision(String(Number(res.header.revision) + 1)), this.deps.callTimeoutMs);
      watcher.on('put', (kv) => listener(JSON.parse(kv.value.toString()) as Candidate));
      watcher.on('delete', () => listener(undefined));
      return watcher;
    });
  }

  /** One attempt: a fresh lease, then create the key under it unless someone holds it. */
  private async tryOnce(candidate: Candidate): Promise<{ leadership?: EtcdLeadership; seenAtRevision: number }> {
    const { client, root, clock } = this.deps;
    const sentAt = clock.monotonic();
    const grant = await etcdCall('lease grant', () => client.leaseClient.leaseGrant({ TTL: Math.max(1, Math.ceil(this.ttlMs / 1000)) }));
    const lease = { id: grant.ID, ttlMs: Number(grant.TTL) * 1000 };
    const res = await commitTxn('campaign', root, [createdAt(root, this.key, 0)], [root.put(this.key).value(JSON.stringify(candidate)).lease(lease.id)])
      .catch(async (e: unknown) => {
        await revoke(client, lease.id);
        throw e;
      });
    const seenAtRevision = Number(res.header.revision);
    if (!res.succeeded) {
      await revoke(client, lease.id);
      return { seenAtRevision };
    }
    const leadership = new EtcdLeadership(this.deps, this.key, structuredClone(candidate), seenAtRevision, lease, sentAt);
    return { leadership, seenAtRevision };
  }

  /** Resolves once the key is deleted after `fromRevision`, or after a TTL (to look again). */
  private async waitForVacancy(fromRevision: number, signal?: AbortSignal): Promise<void> {
    const builder = this.deps.root.watch().key(this.key).startRevision(String(fromRevision));
    const watcher = await startWatch(builder, this.deps.callTimeoutMs).catch(() => undefined);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = this.deps.clock.setTimer(this.ttlMs, done);
        const onAbort = () => {
          timer.cancel();
          reject(signal?.reason as Error);
        };
        function done() {
          timer.cancel();
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }
        watcher?.once('delete', done);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    } finally {
      await watcher?.cancel().catch(() => undefined);
    }
  }
}

/**
 * A held election key and its lease. A tick every ~100 ms renews the lease every third of its
 * TTL (back to back while renewals fail), and while renewals are overdue asks the members
 * whether etcd has a raft leader at all. The standing is judged by the local clock from when
 * the last successful renewal (or no-quorum probe) was sent; see LeadershipStanding.
 */
export class EtcdLeadership implements Leadership {
  readonly lost: Promise<string>;
  private resolveLost!: (reason: string) => void;
  private lostReason: string | undefined;
  private renewedSentAt: number;
  private renewalStartedAt: number;
  private renewing = false;
  private probing = false;
  /** When a quorum probe that found no raft leader was sent, while the standing still held. */
  private noQuorumSentAt: number | undefined;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly deps: EtcdElectionDeps,
    /** The election key under the journal's namespace (a fenced write compares its create revision). */
    readonly key: string,
    readonly candidate: Candidate,
    readonly epoch: number,
    private readonly lease: { id: string; ttlMs: number },
    grantSentAt: number,
  ) {
    this.lost = new Promise((resolve) => (this.resolveLost = resolve));
    this.renewedSentAt = grantSentAt;
    this.renewalStartedAt = grantSentAt;
    deps.active.add(this);
    this.tick();
  }

  standing(): LeadershipStanding {
    if (this.lostReason !== undefined) return 'lost';
    const now = this.deps.clock.monotonic();
    if (now - this.renewedSentAt < this.lease.ttlMs) return 'held';
    if (this.noQuorumSentAt !== undefined && now - this.noQuorumSentAt < this.lease.ttlMs) return 'no-quorum';
    this.lose(`lease not renewed within its ${this.lease.ttlMs} ms TTL`);
    return 'lost';
  }

  async resign(): Promise<void> {
    if (this.lostReason !== undefined) return;
    this.stop('resigned');
    const { root } = this.deps;
    await commitTxn('resign', root, [createdAt(root, this.key, this.epoch)], [root.delete().key(this.key)]).catch(() => undefined);
    await revoke(this.deps.client, this.lease.id);
  }

  /** Ends the leadership without touching etcd (its journal is closing). */
  abandon(): void {
    if (this.lostReason === undefined) this.stop('journal closed');
  }

  private tick(): void {
    if (this.standing() === 'lost') return;
    const now = this.deps.clock.monotonic();
    const third = this.lease.ttlMs / 3;
    const lastSucceeded = this.renewedSentAt === this.renewalStartedAt;
    if (!this.renewing && (!lastSucceeded || now - this.renewalStartedAt >= third)) void this.renew();
    if (!this.probing && now - this.renewedSentAt > third + tickMs) void this.probe();
    this.timer = this.deps.clock.setTimer(Math.min(tickMs, third / 2), () => this.tick());
  }

  private async renew(): Promise<void> {
    this.renewing = true;
    const sentAt = (this.renewalStartedAt = this.deps.clock.monotonic());
    try {
      const ttl = await keepAlive(this.deps.client, this.lease.id, Math.min(this.lease.ttlMs / 3, this.deps.callTimeoutMs));
      if (ttl <= 0) return this.lose('the lease expired in etcd');
      if (this.lostReason !== undefined) return;
      this.renewedSentAt = sentAt;
      this.noQuorumSentAt = undefined;
    } catch {
      // Judged by the standing; the next tick tries again.
    } finally {
      this.renewing = false;
    }
  }

  private async probe(): Promise<void> {
    this.probing = true;
    try {
      const sentAt = this.deps.clock.monotonic();
      if (this.standing() !== 'lost' && (await this.deps.probe.noQuorum(probeTimeoutMs))) this.noQuorumSentAt = sentAt;
    } finally {
      this.probing = false;
    }
  }

  /** Final: stops renewing, revokes the lease if etcd can still be reached, resolves `lost`. */
  private lose(reason: string): void {
    if (this.lostReason !== undefined) return;
    this.stop(reason);
    void revoke(this.deps.client, this.lease.id);
  }

  private stop(reason: string): void {
    this.lostReason = reason;
    this.timer?.cancel();
    this.deps.active.delete(this);
    this.resolveLost(reason);
  }
}

/** One LeaseKeepAlive round trip within `timeoutMs`; resolves the TTL etcd reports (<= 0: gone). */
async function keepAlive(client: Etcd3, leaseId: string, timeoutMs: number): Promise<number> {
  const stream = await client.leaseClient.leaseKeepAlive({ deadline: Date.now() + timeoutMs });
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StratusError('JournalUnavailable', 'lease keep-alive timed out')), timeoutMs);
    stream.on('data', (res) => {
      clearTimeout(timer);
      resolve(Number(res.TTL));
    });
    stream.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    stream.write({ ID: leaseId });
  }).finally(() => {
    // Half-close first: etcd3 resets the member's connections when a still-writable stream errors,
    // and cancelling an open stream is such an error.
    try {
      stream.end();
      stream.cancel();
    } catch {
      // Already closed.
    }
  });
}

async function revoke(client: Etcd3, leaseId: string): Promise<void> {
  await client.leaseClient.leaseRevoke({ ID: leaseId }).catch(() => undefined);
}

function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      timer.cancel();
      reject(signal?.reason as Error);
    };
    const timer = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Fencing a write by etcd itself, not only by the leader's clock: the comparison a write made
 * under `fence` adds to its transaction (the leadership's election key still exists with its
 * create revision, the epoch), so a deposed leader's write in flight fails instead of landing.
 * Rejects with 'Fenced' at once if the leadership is lost already (or is not an etcd one).
 */
export function fenceCompares(root: Namespace, fence: Leadership | undefined): ICompare[] {
  if (fence === undefined) return [];
  if (!(fence instanceof EtcdLeadership) || fence.standing() === 'lost') {
    throw new StratusError('Fenced', `leadership epoch ${fence.epoch} is no longer current`);
  }
  return [createdAt(root, fence.key, fence.epoch)];
}

/** The read a fenced transaction runs when it fails (put it last in the failure branch), so `throwIfFenced` can tell why. */
export function fenceRead(root: Namespace, fence: Leadership | undefined): IOperation[] {
  return fence instanceof EtcdLeadership ? [root.get(fence.key)] : [];
}

/** After a fenced transaction failed: rejects with 'Fenced' if the election key (read by `fenceRead`) is not the leadership's any more. */
export function throwIfFenced(fence: Leadership | undefined, res: ITxnResponse): void {
  if (fence === undefined) return;
  const current = res.responses.at(-1)?.response_range?.kvs[0]?.create_revision;
  if (Number(current ?? 0) !== fence.epoch) {
    throw new StratusError('Fenced', `leadership epoch ${fence.epoch} is no longer current (now ${current ?? 'none'})`);
  }
}
