import type { WorkerConnector } from '../placement/index.js';
import { InternalClient, type InternalCredential } from '../shared/internal-client.js';
import type { Logger } from '../shared/log.js';
import { RemoteWorkerAgent } from '../worker/index.js';

/**
 * The control plane reaches workers in other processes over HTTP with each worker's own
 * credential (`credentialFor`): in a cluster, the key derived for that worker and the cluster CA
 * (HTTPS, each worker checked for its own certificate); for `stratus up`, the shared token (plain HTTP).
 */
export function httpWorkerConnector(credentialFor: (workerId: string) => InternalCredential, log: Logger): WorkerConnector {
  return {
    connect: ({ id, url, status }) => new RemoteWorkerAgent(id, url, new InternalClient(credentialFor(id)), status, log.child({ worker: id })),
  };
}
