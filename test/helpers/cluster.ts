import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
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
  placement: RoleProcess;
  assignment: AssignmentReplicaProcess[];
  workers: RoleProcess[];
  frontends: RoleProcess[];
  credentials: { accessKeyId: string; secretAccessKey: string };
  token: string;
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
  /** Workers print function output (default off). */
  functionLogs?: 'stdout' | 'off';
}

/**
 * Stratus as a real cluster on one machine: a 3-member etcd, placement, assignment replicas
 * (each talking to etcd through its own cuttable proxies), workers and frontends, each a
 * process of its own on an ephemeral loopback port. Everything is stopped by PID.
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const etcd = await startEtcdCluster({ members: 3 });
  const dir = await mkdtemp(join(tmpdir(), 'stratus-cluster-'));
  const token = `token-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const credentials = { accessKeyId: 'AKIASTRATUSCLUSTER', secretAccessKey: `secret-${Math.random().toString(36).slice(2)}` };
  const env = { STRATUS_CLUSTER_TOKEN: token, STRATUS_ACCESS_KEY_ID: credentials.accessKeyId, STRATUS_SECRET_ACCESS_KEY: credentials.secretAccessKey };
  const prefix = `/stratus-${Math.random().toString(36).slice(2)}/`;
  const common = ['--etcd-prefix', prefix, '--log-level', 'info'];
  const started: RoleProcess[] = [];
  const clients: LambdaClient[] = [];
  const proxies: TcpProxy[] = [];
  const launch = async (role: string, id: string, args: string[]) => {
    const p = await spawnRole(role, id, args, env);
    started.push(p);
    return p;
  };
  try {
    const etcdArg = ['--etcd', etcd.endpoints.join(',')];
    const placement = await launch('placement', 'placement', [...etcdArg, ...common, '--lease-ms', '1500']);
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
      assignment.push(Object.assign(p, { links, status: () => getJson(`${p.url}/_stratus/assignment/v1/status`, token) as never }));
    }
    const workers: RoleProcess[] = [];
    for (let i = 0; i < (opts.workers ?? 2); i++) {
      workers.push(await launch('worker', `worker-${i}`, [
        '--control-plane', placement.url, '--id', `worker-${i}`, '--data-dir', join(dir, `worker-${i}`),
        '--worker-memory-mb', String(opts.workerMemoryMb ?? 4096), '--heartbeat-ms', '300', '--log-level', 'warn', '--function-logs', opts.functionLogs ?? 'off',
      ]));
    }
    const frontends: RoleProcess[] = [];
    for (let i = 0; i < (opts.frontends ?? 2); i++) frontends.push(await launch('frontend', `frontend-${i}`, [...etcdArg, ...common, '--port', '0']));
    const cluster: Cluster = {
      etcd, placement, assignment, workers, frontends, credentials, token,
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
        return Promise.all(workers.map(async (w) => ((await getJson(`${w.url}/worker/v1/status`, token)) as { environments: number }).environments));
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

async function getJson(url: string, token: string): Promise<unknown> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}


export { descendantsOf };
