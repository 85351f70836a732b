import type { WorkerAgent, WorkerStatus } from '../worker/index.js';

/** A worker agent in another process, as the control plane holds it. */
export interface ConnectedWorker extends WorkerAgent {
  /** The status the worker's latest heartbeat (or directory entry) carried. */
  report(status: WorkerStatus): void;
}

/** A worker agent in another process: where it serves and what it last reported. */
export interface WorkerAddress {
  id: string;
  url: string;
  status: WorkerStatus;
}

/**
 * Opens the control plane's handle on a worker agent in another process. The one place remote
 * agents are made: placement (registrations, the leader's membership) and the frontends' invokes
 * use it; the command line wires the HTTP implementation.
 */
export interface WorkerConnector {
  connect(worker: WorkerAddress): ConnectedWorker;
}
