import { StratusError } from '../shared/errors.js';

/** A worker a provider started (or, for `static`, one that joined by itself and the provider only saw). */
export interface ProvidedWorker {
  id: string;
  zone: string;
  /** Where the worker's host can be reached (its own address for `local-hosts`). */
  address?: string;
  /** The worker's process, for providers that run one on this machine. */
  pid?: number;
}

export interface WorkerSpec {
  zone: string;
}

/**
 * The seam between placement and whatever runs workers: placement asks for a worker in a zone
 * and, once it has drained one, asks for it to be removed. A provider only starts and stops
 * hosts; the worker it starts joins placement as any worker does (its own credential, register,
 * heartbeat). `canScale` false means placement cannot add or remove workers (they come by
 * themselves); see docs/worker-providers.md for writing one for another substrate.
 */
export interface WorkerProvider {
  readonly kind: string;
  readonly canScale: boolean;
  /** Starts a worker in `spec.zone`; resolves once its process runs (it joins placement shortly after). */
  start(spec: WorkerSpec): Promise<ProvidedWorker>;
  /** Stops a worker this provider started and removes everything made for it (the caller drained it first). */
  stop(workerId: string): Promise<void>;
  /** The workers this provider started and has not stopped. */
  list(): ProvidedWorker[];
  /** Stops every worker it started and removes everything it made (a provider shared by several placement replicas: once the last one closes). */
  close(): Promise<void>;
  /**
   * For a provider shared by several placement replicas (`local-hosts`): this replica leads now and
   * takes over every worker recorded, whoever started it; start and stop are refused (`Fenced`)
   * before, and after another replica's `lead`.
   */
  lead?(): Promise<void>;
  /** This replica no longer leads: it stops acting on workers, which stay. */
  standDown?(): Promise<void>;
  /** `listener` learns of a worker whose host the provider removed by itself (its process died), so the scaler can replace it. */
  onGone?(listener: (worker: ProvidedWorker) => void): void;
}

/**
 * Workers join by themselves (`stratus worker --credentials`), as before the seam: nothing to
 * start, nothing to stop, and a scaler over it never acts.
 */
export class StaticWorkerProvider implements WorkerProvider {
  readonly kind = 'static';
  readonly canScale = false;

  start(): Promise<ProvidedWorker> {
    return Promise.reject(new StratusError('InvalidParameterValue', 'the static worker provider cannot start workers: they join by themselves'));
  }

  stop(workerId: string): Promise<void> {
    return Promise.reject(new StratusError('InvalidParameterValue', `the static worker provider cannot stop worker ${workerId}: it did not start it`));
  }

  list(): ProvidedWorker[] {
    return [];
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
