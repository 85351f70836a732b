import type { Clock } from '../shared/clock.js';
import type { StratusConfig } from '../shared/config.js';
import type { Logger } from '../shared/log.js';
import { HttpCodeSource } from '../codestore/index.js';
import { sendHeartbeat } from '../placement/index.js';
import { WorkerApiServer } from '../worker/index.js';
import { startHostWorker } from './host-worker.js';

export interface WorkerProcessOptions {
  id: string;
  controlPlane: string;
  token: string;
  host: string;
  port: number;
  heartbeatMs: number;
}

export interface RunningWorker {
  url: string;
  stop(): Promise<void>;
}

/**
 * `stratus worker`: a worker agent in its own process. It serves the worker API, fetches code
 * from the control plane, and registers with placement, renewing its lease by heartbeat.
 */
export async function startWorkerProcess(config: StratusConfig, opts: WorkerProcessOptions, log: Logger, clock: Clock): Promise<RunningWorker> {
  const host = await startHostWorker(config, { id: opts.id, code: new HttpCodeSource(opts.controlPlane, opts.token), clock, log });
  const server = new WorkerApiServer(host.agent, opts.token, log.child({ component: 'worker-api' }));
  const address = await server.listen(opts.host, opts.port);
  const url = `http://${opts.host}:${address.port}`;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const register = () => sendHeartbeat(opts.controlPlane, opts.token, { id: opts.id, url, status: host.agent.status() }, Math.max(1000, opts.heartbeatMs));
  const beat = async () => {
    await register().catch((err: unknown) => log.warn({ err }, 'heartbeat failed'));
    if (!stopped) timer = setTimeout(() => void beat(), opts.heartbeatMs);
  };
  try {
    await register();
  } catch (err) {
    await server.close();
    await host.stop();
    throw err;
  }
  timer = setTimeout(() => void beat(), opts.heartbeatMs);
  return {
    url,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await server.close();
      await host.stop();
    },
  };
}
