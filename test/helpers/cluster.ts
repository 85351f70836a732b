import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { EtcdJournal } from '../../src/journal/index.js';
import { controlPlaneCredential, loadClusterSecrets, workerApiCredential, type ClusterSecrets } from '../../src/placement/index.js';
import { InternalClient, type InternalCredential } from '../../src/shared/internal-client.js';
import { CONTROL_PLANE_NAME, workerServerName } from '../../src/shared/tls.js';
import { startEtcdCluster, type EtcdCluster } from './etcd.js';
import { spawnRole, type RoleProcess } from './role-process.js';
import { descendantsOf } from './stratus.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export interface AssignmentReplicaProcess extends RoleProcess {
  /** The replica's links to the etcd members: cut them to isolate it. */
  links: TcpProxy[];
  status(): Promise<{ id: string; role: string; epoch?: number; standing?: string; environments?: number }>;
}

export interface Cluster {
  etcd: EtcdCluster;
  /** The first placement replica (the only one unless `placements` was given). */
  placement: RoleProcess;
  /** Every placement replica; workers are given all their URLs. */
  placements: RoleProcess[];
  assignment: AssignmentReplicaProcess[];
  workers: RoleProcess[];
  frontends: RoleProcess[];
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The control-plane credential and the cluster CA (read from etcd, as an operator could). */
  controlPlane: InternalCredential;
  /** The cluster's secrets as kept in etcd (to derive keys as the cluster does, e.g. a worker's peer key). */
  secrets: ClusterSecrets;
  /** The key the control plane derives for worker `id`'s API (and the CA), as the control plane computes it. */
  workerApi(id: string): InternalCredential;
  /** The cluster's key prefix in etcd. */
  prefix: string;
  /** Where the workers' credential bundles are (`<dir>/<workerId>.json`). */
  dir: string;
  /** Runs `stratus workers <args...>` against this cluster's etcd; resolves its output (rejects if it failed). */
  workersCommand(...args: string[]): Promise<string>;
  /** Starts one more worker with its own credential (`stratus workers add`, then `stratus worker --credentials`). */
  addWorker(id: string, zone?: string): Promise<RoleProcess>;
  /** A LambdaClient on frontend i (SDK retries as configured: default 3 attempts). */
  lambda(i: number, opts?: { maxAttempts?: number }): LambdaClient;
  /** The replica that says it leads (undefined if none does). */
  leader(): Promise<AssignmentReplicaProcess | undefined>;
  /** Environments each worker runs now (from its status API). */
  workerEnvironments(): Promise<number[]>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  frontends?: number;
  replicas?: number;
  workers?: number;
  workerMemoryMb?: number;
  leaderTtlMs?: number;
  keepAliveMs?: number;
  /** More flags for the placement process (e.g. the code collector's grace period). */
  placementArgs?: string[];
  /** More flags for every frontend. */
  frontendArgs?: string[];
  /** Placement replicas (default 1), each `--id placement-<i>`. */
  placements?: number;
  /** Worker i's zone is zones[i % zones.length] (default: none given, each worker's default zone). */
  zones?: string[];
  /** Workers print function output (default off). */
  functionLogs?: 'store' | 'stdout' | 'off';
}

/**
 * Stratus as a real cluster on one machine: a 3-member etcd, placement, assignment replicas
 * (each talking to etcd through its own cuttable proxies), workers and frontends, each a
 * process of its own on an ephemeral loopback port. Everything is stopped by PID.
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const etcd = await startEtcdCluster({ members: 3 });
  const dir = await mkdtemp(join(tmpdir(), 'stratus-cluster-'));
  const credentials = { accessKeyId: 'AKIASTRATUSCLUSTER', secretAccessKey: `secret-${Math.random().toString(36).slice(2)}` };
  const env = { STRATUS_ACCESS_KEY_ID: credentials.accessKeyId, STRATUS_SECRET_ACCESS_KEY: credentials.secretAccessKey };
  const prefix = `/stratus-${Math.random().toString(36).slice(2)}/`;
  const common = ['--etcd-prefix', prefix, '--log-level', 'info'];
  const started: RoleProcess[] = [];
  const clients: { destroy(): void }[] = [];
  const proxies: TcpProxy[] = [];
  const launch = async (role: string, id: string, args: string[]) => {
    const p = await spawnRole(role, id, args, env);
    started.push(p);
    return p;
  };
  const etcdArg = ['--etcd', etcd.endpoints.join(',')];
  const workersCommand = async (...args: string[]) => (await run(process.execPath, [MAIN, 'workers', ...args, ...etcdArg, '--etcd-prefix', prefix])).stdout;
  try {
    const placements: RoleProcess[] = [];
    for (let i = 0; i < (opts.placements ?? 1); i++) {
      const id = i === 0 && !opts.placements ? 'placement' : `placement-${i}`;
      placements.push(await launch('placement', id, [
        ...etcdArg, ...common, '--id', id, '--lease-ms', '1500', '--leader-ttl-ms', String(opts.leaderTtlMs ?? 1000), ...(opts.placementArgs ?? []),
      ]));
    }
    const placement = placements[0]!;
    const secrets = await readClusterSecrets(etcd.endpoints, prefix);
    const controlPlane = controlPlaneCredential(secrets);
    const workerApi = (id: string) => workerApiCredential(secrets, id);
    const addWorker = async (id: string, zone?: string) => {
      const bundle = join(dir, `${id}.json`);
      await writeFile(bundle, await workersCommand('add', '--id', id), { mode: 0o600 });
      return launch('worker', id, [
        '--control-plane', placements.map((p) => p.url).join(','), '--credentials', bundle, '--data-dir', join(dir, id),
        '--worker-memory-mb', String(opts.workerMemoryMb ?? 4096), '--heartbeat-ms', '300', '--log-level', 'warn', '--function-logs', opts.functionLogs ?? 'store',
        ...(zone ? ['--zone', zone] : []),
      ]);
    };

    const client = new InternalClient(controlPlane);
    clients.push({ destroy: () => client.close() });
    const getJson = async (url: string, serverName: string) => client.json(url, serverName, 'GET', undefined, 2000);
    const workerClients = new Map<string, InternalClient>();
    const workerJson = (id: string, url: string) => {
      let c = workerClients.get(id);
      if (!c) {
        const made = new InternalClient(workerApi(id));
        clients.push({ destroy: () => made.close() });
        workerClients.set(id, (c = made));
      }
      return c.json(url, workerServerName(id), 'GET', undefined, 2000);
    };
    const assignment: AssignmentReplicaProcess[] = [];
    for (let i = 0; i < (opts.replicas ?? 3); i++) {
      const links = await Promise.all(etcd.endpoints.map((e) => {
        const u = new URL(e);
        return startTcpProxy({ host: u.hostname, port: Number(u.port) });
      }));
      proxies.push(...links);
      const p = await launch('assignment', `assignment-${i}`, [
        '--etcd', links.map((l) => l.url).join(','), ...common, '--id', `assignment-${i}`,
        '--leader-ttl-ms', String(opts.leaderTtlMs ?? 1000), '--keep-alive-ms', String(opts.keepAliveMs ?? 600_000),
      ]);
      assignment.push(Object.assign(p, { links, status: () => getJson(`${p.url}/_stratus/assignment/v1/status`, CONTROL_PLANE_NAME) as never }));
    }
    const workers: RoleProcess[] = [];
    for (let i = 0; i < (opts.workers ?? 2); i++) workers.push(await addWorker(`worker-${i}`, opts.zones?.[i % opts.zones.length]));
    const frontends: RoleProcess[] = [];
    for (let i = 0; i < (opts.frontends ?? 2); i++) frontends.push(await launch('frontend', `frontend-${i}`, [...etcdArg, ...common, '--port', '0', ...(opts.frontendArgs ?? [])]));
    const cluster: Cluster = {
      etcd, placement, placements, assignment, workers, frontends, credentials, controlPlane, secrets, workerApi, prefix, dir, workersCommand, addWorker,
      lambda(i, o = {}) {
        const client = new LambdaClient({ endpoint: frontends[i]?.url, region: 'us-east-1', credentials, maxAttempts: o.maxAttempts ?? 3 });
        clients.push(client);
        return client;
      },
      async leader() {
        for (const r of assignment) {
          const s = await r.status().catch(() => undefined);
          if (s?.role === 'leader' && s.standing === 'held') return r;
        }
        return undefined;
      },
      async workerEnvironments() {
        return Promise.all(workers.map(async (w) => ((await workerJson(w.id, `${w.url}/worker/v1/status`)) as { environments: number }).environments));
      },
      async stop() {
        for (const c of clients) c.destroy();
        await Promise.all(started.map((p) => p.stop()));
        await Promise.all(proxies.map((p) => p.close()));
        await etcd.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
    return cluster;
  } catch (err) {
    await Promise.all(started.map((p) => p.kill()));
    await Promise.all(proxies.map((p) => p.close()));
    await etcd.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const run = promisify(execFile);

/** The cluster's secrets as the cluster keeps them in etcd. */
async function readClusterSecrets(endpoints: string[], prefix: string): Promise<ClusterSecrets> {
  const journal = new EtcdJournal({ endpoints, prefix });
  try {
    return await loadClusterSecrets(journal.clusterSecrets, Date.now());
  } finally {
    await journal.close();
  }
}

export { descendantsOf };

/** The SnapStart snapshots unpacked in the cache of worker `id` of a cluster in `dir` (their digests). */
export async function unpackedSnapshots(dir: string, id: string): Promise<string[]> {
  const root = join(dir, id, 'worker', 'snapshots');
  const found: string[] = [];
  for (const account of await readdir(root).catch(() => [] as string[])) {
    for (const name of await readdir(join(root, account)).catch(() => [] as string[])) if (/^[0-9a-f]{64}$/.test(name)) found.push(name);
  }
  return found;
}

/** Of a cluster's first two workers, the one that made its only SnapStart snapshot (asserted: exactly one), the other, and the snapshot's digest. */
export async function snapshotMaker(cluster: Cluster): Promise<{ maker: RoleProcess; other: RoleProcess; sha: string }> {
  const [w0, w1] = cluster.workers;
  assert.ok(w0 && w1);
  const made = [await unpackedSnapshots(cluster.dir, w0.id), await unpackedSnapshots(cluster.dir, w1.id)];
  assert.equal(made.flat().length, 1, 'one worker made the snapshot');
  const [maker, other] = made[0]?.length ? [w0, w1] : [w1, w0];
  return { maker, other, sha: made.flat()[0] ?? '' };
}
