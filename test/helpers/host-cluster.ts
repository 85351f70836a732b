import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LocalHostsProvider } from '../../src/placement/index.js';
import type { WorkerBundle } from '../../src/placement/worker-credentials.js';
import { silentLogger } from '../../src/shared/log.js';
import { startCluster, type Cluster, type ClusterOptions } from './cluster.js';
import type { RoleProcess } from './role-process.js';
import { until } from './wait.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const run = promisify(execFile);

/** A `stratus worker` that `local-hosts` started as a host of its own: its namespace, address on the bridge, cgroup, data directory. */
export interface HostWorker extends RoleProcess {
  zone: string;
  /** Its address on the bridge (10.213.N.M). */
  address: string;
  /** Its data directory (chunk cache under `worker/chunks`). */
  dataDir: string;
  /** Its metrics URL, on its own address (it listens on every address of its namespace). */
  metricsUrl(): string;
}

export interface HostCluster extends Cluster {
  /** The bridge's address: placement listens there, the hosts' only neighbour but each other. */
  bridge: string;
  /** Every host started so far (also in `workers`, for `workerEnvironments`). */
  hosts: HostWorker[];
  /** Starts a worker host in `zone`; resolves once it serves (it joins placement by heartbeat). */
  addHost(zone: string): Promise<HostWorker>;
}

interface Recorded {
  bridge: string;
  hosts: { netns: string; veth: string; cgroups: string[]; pid?: number }[];
}

/**
 * A cluster (test/helpers/cluster.ts: 3-member etcd, placement, assignment replicas, frontends on
 * loopback) whose workers are `local-hosts` hosts: the test drives the provider itself (placement
 * runs the static provider, so no scaler adds or replaces workers behind the test), placement
 * listens on the provider's bridge, and each worker is a `stratus worker` in its own network
 * namespace, reached (by placement, assignment, the test and its zone peers) over veth and
 * bridge. `stop` removes every host, then the cluster, and fails if a namespace, veth, bridge or
 * worker process is left.
 */
export async function startHostCluster(opts: Omit<ClusterOptions, 'workers' | 'zones'> & { workerArgs?: string[] } = {}): Promise<HostCluster> {
  const stateDir = await mkdtemp(join(tmpdir(), 'stratus-hosts-'));
  const late: { cluster?: Cluster } = {};
  const provider = await LocalHostsProvider.open({
    stateDir,
    command: [process.execPath, MAIN],
    workerArgs: [
      '--worker-memory-mb', String(opts.workerMemoryMb ?? 4096), '--heartbeat-ms', '300', '--log-level', 'warn', '--function-logs', opts.functionLogs ?? 'store',
      '--metrics-host', '0.0.0.0', '--metrics-port', '0', ...(opts.workerArgs ?? []),
    ],
    issueCredential: async (id) => JSON.parse(await (late.cluster?.workersCommand('add', '--id', id) ?? Promise.reject(new Error('no cluster yet')))) as WorkerBundle,
    revokeCredential: async (id) => void (await late.cluster?.workersCommand('revoke', '--id', id)),
    log: silentLogger(),
  });
  // The test's provider leads: placement runs the static provider, so no other replica shares these hosts.
  await provider.lead();
  const recorded = async (): Promise<Recorded> => {
    const { net, hosts } = LocalHostsProvider.recorded(stateDir);
    return { bridge: net?.bridge ?? '', hosts };
  };
  let cluster: Cluster;
  try {
    cluster = await startCluster({ ...opts, workers: 0, placementArgs: ['--host', provider.address, ...(opts.placementArgs ?? [])] });
  } catch (err) {
    await provider.close();
    await rm(stateDir, { recursive: true, force: true });
    throw err;
  }
  late.cluster = cluster;
  provider.setControlPlane(cluster.placement.url);
  const hosts: HostWorker[] = [];
  const logs: number[] = [];
  const stopCluster = cluster.stop.bind(cluster);
  return Object.assign(cluster, {
    bridge: provider.address,
    hosts,
    async addHost(zone: string) {
      const started = await provider.start({ zone });
      const dir = join(stateDir, started.id);
      // Read through a descriptor of our own, opened at once: the provider removes a dead host's
      // directory (its log with it), and what the worker wrote up to its death is still read.
      const fd = openSync(join(dir, 'worker.log'), 'r');
      logs.push(fd);
      const chunks: Buffer[] = [];
      const output = () => {
        const buf = Buffer.alloc(64 * 1024);
        for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) chunks.push(Buffer.from(buf.subarray(0, n)));
        return Buffer.concat(chunks).toString('utf8');
      };
      const url = await until(() => /serving on (https?:\/\/\S+)/.exec(output())?.[1], `worker host ${started.id} to serve`, 60_000)
        .catch((err: unknown) => Promise.reject(new Error(`${String(err)}\n${output()}`)));
      const pid = started.pid ?? 0;
      const host: HostWorker = {
        role: 'worker', id: started.id, pid, url, zone, address: started.address ?? '', dataDir: join(dir, 'data'), output,
        metricsUrl: () => (/Metrics \(Prometheus\) on (\S+)/.exec(output())?.[1] ?? '').replace('0.0.0.0', started.address ?? ''),
        // SIGKILL by pid (the worker's own process: sh and `ip netns exec` exec it), as a host that crashes.
        async kill() {
          if (!alive(pid)) return;
          process.kill(pid, 'SIGKILL');
          await until(() => !alive(pid), `worker ${started.id} (pid ${pid}) to die`, 10_000);
        },
        stop: () => provider.stop(started.id),
        respawn: () => Promise.reject(new Error('a local-hosts worker is not respawned: start another host')),
      };
      hosts.push(host);
      cluster.workers.push(host);
      return host;
    },
    async stop() {
      const made = await recorded().catch(() => undefined);
      try {
        await provider.close();
      } finally {
        await stopCluster();
      }
      for (const fd of logs.splice(0)) closeSync(fd);
      // Only once the provider removed what it made: its record is what a later run would clean up from.
      await rm(stateDir, { recursive: true, force: true });
      if (made) await assertRemoved(made);
    },
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Fails if any namespace, veth, bridge, cgroup or worker process the provider recorded is still there. */
async function assertRemoved(made: Recorded): Promise<void> {
  const netns = (await run('ip', ['netns', 'list'])).stdout;
  const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
  const left = [
    ...made.hosts.filter((h) => netns.includes(h.netns)).map((h) => `netns ${h.netns}`),
    ...made.hosts.filter((h) => links.includes(`${h.veth}@`) || links.includes(`${h.veth}:`)).map((h) => `veth ${h.veth}`),
    ...(links.includes(`${made.bridge}:`) ? [`bridge ${made.bridge}`] : []),
    ...made.hosts.filter((h) => h.pid && alive(h.pid)).map((h) => `worker pid ${h.pid}`),
    ...made.hosts.flatMap((h) => h.cgroups.filter((dir) => existsSync(dir)).map((dir) => `cgroup ${dir}`)),
  ];
  if (left.length > 0) throw new Error(`local-hosts left behind: ${left.join(', ')}`);
}
