import type { EnvironmentSpec } from './environment-spec.js';
import type { Invocation, InvocationResult } from './invocation.js';

/** A function's initialization is given this long (Lambda's init phase limit, 10 s). */
export const INIT_TIMEOUT_MS = 10_000;

/**
 * The seam between the control plane and a worker host. On one machine the agent is called
 * in-process; in a cluster the same interface is served over the network.
 *
 * Calls of an assignment leadership carry its fencing epoch (`EnvironmentOptions.epoch`,
 * `Invocation.epoch`, `destroyEnvironment`'s and `environments`' `epoch`); a FencedWorkerAgent
 * refuses those of a leadership older than the newest it has seen.
 */
export interface WorkerAgent {
  readonly id: string;
  /** Starts booting an environment; resolves once its sandbox runs (before init finishes). */
  createEnvironment(envId: string, spec: EnvironmentSpec, opts?: EnvironmentOptions): Promise<void>;
  /** Runs one invocation in the environment (waits for its init on a cold start). */
  invoke(envId: string, invocation: Invocation): Promise<InvocationResult>;
  destroyEnvironment(envId: string, epoch?: number): Promise<void>;
  /** Tells `listener` when an environment ends on its own (its runtime exited, it was killed). */
  onEnvironmentLost(listener: (envId: string) => void): void;
  /**
   * The environments alive on this worker. With `epoch` (an assignment leadership's fencing
   * token), the worker first refuses, from then on, requests of any earlier leadership.
   */
  environments(epoch?: number): Promise<EnvironmentReport[]>;
  /**
   * SnapStart: boots, initializes and checkpoints `spec`'s function; the snapshot as a tar (absent:
   * not offered). `signal` gives up waiting for it (rejects with its reason).
   */
  createSnapshot?(spec: EnvironmentSpec, opts?: { signal?: AbortSignal }): Promise<{ tar: Buffer; sha256: string }>;
  status(): WorkerStatus;
  shutdown(): Promise<void>;
}

export interface EnvironmentOptions {
  /** Lambda's AWS_LAMBDA_INITIALIZATION_TYPE; a provisioned environment reports no Init Duration. */
  initType?: 'on-demand' | 'provisioned-concurrency';
  /** The fencing epoch of the assignment leadership creating it (a cluster). */
  epoch?: number;
  /** The span it is created under (a W3C traceparent): its creation and init are traced. */
  trace?: string;
  /** Booted ahead of an expected invoke (a keep-alive pre-warm): no invoke waits on its creation. */
  prewarm?: boolean;
}

export interface EnvironmentReport {
  envId: string;
  busy: boolean;
  /** Idle with its sandbox frozen (absent: not frozen, or the worker does not say). */
  frozen?: boolean;
}

export interface WorkerStatus {
  id: string;
  memoryMb: number;
  memoryReservedMb: number;
  environments: number;
  /** Code digests this worker has unpacked (placement prefers them). */
  cachedCode: string[];
  /** Of memoryReservedMb, what caches the worker drops to make room hold: warm-pool stems and pre-restored SnapStart clones (absent: not reported). */
  memoryCachesMb?: number;
  /** Warm-pool stems booted and waiting (absent: no warm pool, or not reported). */
  stems?: number;
  /** Environments running an invoke now (absent: not reported); a drained worker is removed only when none does. */
  busy?: number;
  /** The worker's zone (placement spreads a function's environments across zones); absent: the default zone. */
  zone?: string;
}
