import type { WorkerConnector } from '../placement/index.js';
import { InternalClient, type InternalCredential } from '../shared/internal-client.js';
import type { Logger } from '../shared/log.js';
import { RemoteWorkerAgent } from '../worker/index.js';

/**
 * The control plane reaches workers in other processes over HTTP with `credential`: the
 * control-plane credential and the cluster CA (HTTPS, each worker checked for its own
 * certificate), or `stratus up`'s shared token (plain HTTP).
 */
export function httpWorkerConnector(credential: InternalCredential, log: Logger): WorkerConnector {
  return {
    connect: ({ id, url, status }) => new RemoteWorkerAgent(id, url, new InternalClient(credential), status, log.child({ worker: id })),
  };
}
