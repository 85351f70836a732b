import type { EnvironmentSpec } from './environment-spec.js';
import { StratusError } from '../shared/errors.js';
import type { EnvironmentOptions, EnvironmentReport, WorkerAgent, WorkerStatus } from './agent.js';
import type { Invocation, InvocationResult } from './invocation.js';

/**
 * A worker agent that obeys fencing: it holds the highest assignment epoch any call has carried
 * (a new leader raises it with `environments(epoch)` as it takes over) and refuses, with
 * 'Fenced', every call that carries an older one — it comes from a deposed leader, or is for an environment that leader granted — so two
 * leaderships never both use an environment. Calls without an epoch (one machine, no leadership)
 * pass. Wrapped around any agent, so an in-process worker is fenced like one served over HTTP.
 *
 * The check runs when the call is made, right before the agent acts: a caller must make the call
 * only once it has everything it needs (a request's body read), or a fence that comes meanwhile
 * lists the environments without the call that is about to act (a double grant).
 */
export class FencedWorkerAgent implements WorkerAgent {
  private highest = 0;
  readonly createSnapshot?: WorkerAgent['createSnapshot'];

  constructor(private readonly inner: WorkerAgent) {
    if (inner.createSnapshot) this.createSnapshot = inner.createSnapshot.bind(inner);
  }

  get id(): string {
    return this.inner.id;
  }

  /** The newest leadership's epoch this worker has seen. */
  get epoch(): number {
    return this.highest;
  }

  async createEnvironment(envId: string, spec: EnvironmentSpec, opts: EnvironmentOptions = {}): Promise<void> {
    this.admit(opts.epoch);
    return this.inner.createEnvironment(envId, spec, opts);
  }

  async invoke(envId: string, invocation: Invocation): Promise<InvocationResult> {
    this.admit(invocation.epoch);
    return this.inner.invoke(envId, invocation);
  }

  async destroyEnvironment(envId: string, epoch?: number): Promise<void> {
    this.admit(epoch);
    return this.inner.destroyEnvironment(envId, epoch);
  }

  async environments(epoch?: number): Promise<EnvironmentReport[]> {
    this.admit(epoch);
    return this.inner.environments(epoch);
  }

  onEnvironmentLost(listener: (envId: string) => void): void {
    this.inner.onEnvironmentLost(listener);
  }

  status(): WorkerStatus {
    return this.inner.status();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  /** Raises the fence to `epoch`, or refuses the call if it is older than one already seen. */
  private admit(epoch: number | undefined): void {
    if (epoch === undefined) return;
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new StratusError('InvalidRequestContent', `not a fencing epoch: ${epoch}`);
    if (epoch < this.highest) throw new StratusError('Fenced', `a newer assignment leadership (epoch ${this.highest}) has taken over worker ${this.inner.id}`);
    this.highest = epoch;
  }
}
