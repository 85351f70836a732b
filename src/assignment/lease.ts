import type { FunctionVersion } from '../registry/index.js';
import type { WorkerAgent } from '../worker/index.js';
import type { WorkerEnvironments } from './listing.js';

/** An environment handed to one invocation; give it back with `release`. */
export interface Lease {
  envId: string;
  worker: WorkerAgent;
  cold: boolean;
  /** The fencing epoch of the leadership that granted it (a cluster); the worker checks it. */
  epoch?: number;
  /** This grant of the environment: only its own release frees it (not a late or repeated one of an earlier grant). */
  grant: string;
}

/** What the invoke path needs of assignment: the service itself, or a client of its leader. */
export interface Assigner {
  acquire(fn: FunctionVersion, opts?: AcquireOptions): Promise<Lease>;
  /** Gives an environment back: the one `lease.grant` holds. */
  release(lease: Pick<Lease, 'envId' | 'grant'>, reusable: boolean): void;
  /** Every worker's environments as the leader's table has them now (the console's live view). */
  environments(): Promise<WorkerEnvironments[]>;
}

export interface AcquireOptions {
  /** The invoke's span (a W3C traceparent): the acquire, and an environment it creates, are traced under it. */
  trace?: string;
}
