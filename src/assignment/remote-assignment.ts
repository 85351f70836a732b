import type { Candidate, LeaderElection } from '../journal/index.js';
import type { FunctionVersion } from '../registry/index.js';
import type { Clock } from '../shared/clock.js';
import { fromWireError, StratusError } from '../shared/errors.js';
import { parseJson, type InternalClient, type InternalReply } from '../shared/internal-client.js';
import { CONTROL_PLANE_NAME } from '../shared/tls.js';
import type { Logger } from '../shared/log.js';
import { TRACEPARENT_HEADER } from '../shared/tracing.js';
import type { WorkerAgent } from '../worker/index.js';
import { ASSIGNMENT_API, type GrantWire } from './assignment-api.js';
import type { AcquireOptions, Assigner, Lease } from './assignment.js';
import type { WorkerEnvironments } from './listing.js';

export interface RemoteAssignmentDeps {
  /** Where the current leader is recorded. */
  election: LeaderElection;
  /** The control-plane credential, and the cluster CA the leader's certificate is checked against. */
  client: InternalClient;
  /** The frontend's handle on a worker, by id and URL. */
  worker(workerId: string, url: string): WorkerAgent;
  clock: Clock;
  logger: Logger;
  /** How long a request keeps looking for a leader (a failover) before it fails. */
  failoverWaitMs: number;
}

/**
 * A frontend's client of the assignment leader. It follows the election to know the leader;
 * during a failover a request waits (up to failoverWaitMs) for the next leader instead of
 * failing, so clients see at most the requests whose invocation was in flight.
 */
export class RemoteAssignment implements Assigner {
  private current: Candidate | undefined;
  private unwatch: (() => void) | undefined;
  /**
   * Releases that did not reach a leader at the first try (a failover). Acquires wait for them:
   * otherwise a client's next invoke would find its environment still busy and cold start.
   */
  private readonly delayedReleases = new Set<Promise<unknown>>();

  constructor(private readonly deps: RemoteAssignmentDeps) {}

  async start(): Promise<void> {
    this.unwatch = await this.deps.election.watchLeader((leader) => {
      this.current = leader;
    });
    this.current ??= await this.deps.election.leader();
  }

  stop(): void {
    this.unwatch?.();
    this.deps.client.close();
  }

  async acquire(fn: FunctionVersion, opts: AcquireOptions = {}): Promise<Lease> {
    const releasesFirst = async () => {
      if (this.delayedReleases.size > 0) await Promise.allSettled([...this.delayedReleases]);
    };
    const headers = opts.trace === undefined ? undefined : { [TRACEPARENT_HEADER]: opts.trace };
    const grant = (await this.call('/acquire', { fn }, releasesFirst, headers)) as GrantWire;
    return { envId: grant.envId, worker: this.deps.worker(grant.workerId, grant.workerUrl), cold: grant.cold, epoch: grant.epoch, grant: grant.grant };
  }

  release(lease: Pick<Lease, 'envId' | 'grant'>, reusable: boolean): void {
    const body = { envId: lease.envId, reusable, grant: lease.grant };
    const leader = this.current;
    const first = leader ? this.post(leader, '/release', body) : Promise.resolve({ kind: 'retry' } as const);
    void first.then((answer) => {
      if (answer.kind !== 'retry') return;
      const retried = this.call('/release', body).catch((err: unknown) => {
        this.deps.logger.warn({ err, envId: lease.envId }, 'releasing an environment failed');
      });
      this.delayedReleases.add(retried);
      void retried.finally(() => this.delayedReleases.delete(retried));
    });
  }

  async provisionedCount(fn: FunctionVersion): Promise<number> {
    return ((await this.call('/provisioned-count', { fn })) as { count: number }).count;
  }

  async environments(): Promise<WorkerEnvironments[]> {
    return ((await this.call('/environments', {})) as { workers: WorkerEnvironments[] }).workers;
  }

  /** POSTs to the leader, waiting out a failover; `before` runs ahead of every attempt. */
  private async call(path: string, body: unknown, before?: () => Promise<void>, headers?: Record<string, string>): Promise<unknown> {
    const deadline = this.deps.clock.now() + this.deps.failoverWaitMs;
    for (let attempt = 0; ; attempt++) {
      await before?.();
      const leader = this.current;
      if (leader) {
        const answer = await this.post(leader, path, body, headers);
        if (answer.kind === 'ok') return answer.value;
        if (answer.kind === 'error') throw answer.error;
      }
      if (this.deps.clock.now() >= deadline) {
        throw new StratusError('ServiceUnavailable', 'No assignment leader is available right now (a failover is in progress). Try again.');
      }
      await new Promise((resolve) => this.deps.clock.setTimer(Math.min(25 * 2 ** attempt, 200), () => resolve(undefined)));
      this.current = (await this.deps.election.leader().catch(() => undefined)) ?? this.current;
    }
  }

  private async post(leader: Candidate, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ kind: 'ok'; value: unknown } | { kind: 'error'; error: StratusError } | { kind: 'retry' }> {
    let res: InternalReply;
    try {
      res = await this.deps.client.exchange(`${leader.address}${ASSIGNMENT_API}${path}`, CONTROL_PLANE_NAME, {
        method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body),
      });
    } catch {
      return { kind: 'retry' };
    }
    if (res.status === 204) return { kind: 'ok', value: undefined };
    const json = parseJson(res.body);
    if (res.status < 300) return { kind: 'ok', value: json };
    const error = fromWireError(json, `assignment leader answered HTTP ${res.status}`);
    // The replica asked no longer leads: not a failure of the request, which goes to the next leader.
    if (error.code === 'NotLeader') return { kind: 'retry' };
    return { kind: 'error', error };
  }
}
