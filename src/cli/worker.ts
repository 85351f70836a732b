import type { Clock } from '../shared/clock.js';
import { isStratusError } from '../shared/errors.js';
import type { StratusConfig } from '../shared/config.js';
import type { Logger } from '../shared/log.js';
import { Metrics } from '../shared/metrics.js';
import { startMetricsListener } from '../shared/metrics-server.js';
import { createTracer } from '../shared/tracing.js';
import { HttpCodeSource } from '../codestore/index.js';
import { ControlPlanes, requestWorkerCertificate, sendHeartbeat, workerAuthorization, type WorkerBundle } from '../placement/index.js';
import { controlPlaneKey, type Authenticate } from '../shared/cluster-api.js';
import { InternalClient } from '../shared/internal-client.js';
import { createCsr, newKeyPair, type TlsIdentity } from '../shared/tls.js';
import { shipLogsTo, WorkerApiServer, ZonePeers, type CodeSource } from '../worker/index.js';
import { startHostWorker } from './host-worker.js';

export interface WorkerProcessOptions {
  id: string;
  /** `URL[,URL...]`: the placement replicas (any of them; the worker follows the leader). */
  controlPlane: string;
  /** Its own credential bundle (`stratus workers add`): for a cluster's placement and for `stratus up` alike. */
  bundle: WorkerBundle;
  host: string;
  port: number;
  heartbeatMs: number;
}

export interface RunningWorker {
  url: string;
  /** Its own metrics listener (environments, memory, chunk cache, cold starts). */
  metricsUrl: string;
  stop(): Promise<void>;
}

/**
 * How this worker talks to the control plane and whom its API admits: its own credential on every request, the control plane checked against the cluster CA, its API
 * served over TLS with a certificate the control plane issues for its id (from a key made here,
 * which never leaves this process) and open only to the key the control plane derives for this
 * worker alone.
 */
async function joining(opts: WorkerProcessOptions, planes: ControlPlanes): Promise<{ client: InternalClient; authenticate: Authenticate; tls: TlsIdentity; peerKey?: string }> {
  const { bundle } = opts;
  const client = new InternalClient({ authorization: workerAuthorization(bundle), ca: bundle.caCertificate });
  const { keyPem, publicKeyPem } = newKeyPair();
  const csr = createCsr(keyPem, publicKeyPem);
  const issued = await planes.call((url) => requestWorkerCertificate(client, url, csr, 10_000));
  return { client, authenticate: controlPlaneKey(issued.workerApiKeyHash), tls: { key: keyPem, cert: issued.certificate }, peerKey: issued.peerKey };
}

/**
 * `stratus worker`: a worker agent in its own process. It serves the worker API, fetches code
 * from the control plane, and registers with placement, renewing its lease by heartbeat.
 */
export async function startWorkerProcess(config: StratusConfig, opts: WorkerProcessOptions, log: Logger, clock: Clock): Promise<RunningWorker> {
  const planes = ControlPlanes.parse(opts.controlPlane);
  const { client, authenticate, tls, peerKey } = await joining(opts, planes);
  const metrics = new Metrics();
  const tracer = createTracer(config.observability, { role: 'worker', instanceId: opts.id, clock });
  // The second chunk tier: the workers of this zone, with this worker's own peer key.
  const peerClient = peerKey === undefined ? undefined : new InternalClient({ authorization: `Bearer ${peerKey}`, ca: opts.bundle.caCertificate });
  const peers = peerClient && new ZonePeers(opts.id, peerClient, log.child({ component: 'peers' }));
  const host = await startHostWorker(config, {
    id: opts.id, code: replicatedCodeSource(planes, client), peers, shipLogs: (batches) => planes.call((u) => shipLogsTo(u, client)(batches)), clock, log, metrics, tracer,
  });
  const server = new WorkerApiServer(host.agent, authenticate, log.child({ component: 'worker-api' }), tls, peers && { admit: (a) => peers.admit(a), held: (acc, sha) => host.chunks.held(acc, sha) });
  const address = await server.listen(opts.host, opts.port);
  const url = `${server.scheme}://${opts.host}:${address.port}`;
  let stopped = false;
  let stopMetrics: { stop(): Promise<void> } | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const register = async () => {
    const answer = await planes.call((cp) => sendHeartbeat(client, cp, { id: opts.id, url, status: host.agent.status() }, Math.max(1000, opts.heartbeatMs)));
    if (Array.isArray(answer.peers)) peers?.update(answer.peers);
  };
  const beat = async () => {
    await register().catch((err: unknown) => log.warn({ err }, 'heartbeat failed'));
    if (!stopped) timer = setTimeout(() => void beat(), opts.heartbeatMs);
  };
  let metricsUrl: string;
  try {
    await registerAtStart(register, clock);
    metricsUrl = (stopMetrics = await startMetricsListener(metrics, config.metrics.host, config.metrics.port, log)).url;
  } catch (err) {
    await stopMetrics?.stop();
    await server.close();
    await host.stop();
    client.close();
    await tracer.shutdown();
    throw err;
  }
  timer = setTimeout(() => void beat(), opts.heartbeatMs);
  return {
    url,
    metricsUrl,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await stopMetrics?.stop();
      await server.close();
      await host.stop();
      client.close();
      peerClient?.close();
      await tracer.shutdown();
    },
  };
}

/** Code, chunks and images from whichever placement replica answers (each reads them from etcd). */
function replicatedCodeSource(planes: ControlPlanes, client: InternalClient): CodeSource {
  const sources = new Map<string, HttpCodeSource>();
  const at = (url: string) => {
    let source = sources.get(url);
    if (!source) sources.set(url, (source = new HttpCodeSource(url, client)));
    return source;
  };
  return {
    get: (ref) => planes.call((u) => at(u).get(ref)),
    getChunk: (sha256) => planes.call((u) => at(u).getChunk(sha256)),
    getImage: (digest) => planes.call((u) => at(u).getImage(digest)),
  };
}

/**
 * The first registration: while the placement replicas are still electing a leader (every one
 * answers NotLeader), it is tried again for up to 30 s; any other failure ends the start.
 */
async function registerAtStart(register: () => Promise<void>, clock: Clock): Promise<void> {
  const deadline = clock.monotonic() + 30_000;
  for (;;) {
    try {
      return await register();
    } catch (err) {
      if (!isStratusError(err) || err.code !== 'NotLeader' || clock.monotonic() > deadline) throw err;
      await new Promise<void>((resolve) => clock.setTimer(200, resolve));
    }
  }
}
