import type { WorkerConnector } from '../placement/index.js';
import type { Logger } from '../shared/log.js';
import { RemoteWorkerAgent } from '../worker/index.js';

/** The control plane reaches workers in other processes over HTTP, with the cluster token. */
export function httpWorkerConnector(token: string, log: Logger): WorkerConnector {
  return {
    connect: ({ id, url, status }) => new RemoteWorkerAgent(id, url, token, status, log.child({ worker: id })),
  };
}
