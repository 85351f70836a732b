import type { WorkerConnector } from '../placement/index.js';
import { InternalClient, type InternalCredential } from '../shared/internal-client.js';
import type { Logger } from '../shared/log.js';
import { RemoteWorkerAgent } from '../worker/index.js';

/**
 * The control plane reaches workers in other processes over HTTPS with each worker's own
 * credential (`credentialFor`): the key derived for that worker and the CA (each worker checked
 * for its own certificate), in a cluster and for `stratus up` alike.
 */
export function httpWorkerConnector(credentialFor: (workerId: string) => InternalCredential, log: Logger): WorkerConnector {
  return {
    connect: ({ id, url, status }) => new RemoteWorkerAgent(id, url, new InternalClient(credentialFor(id)), status, log.child({ worker: id })),
  };
}
