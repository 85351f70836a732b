import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { EtcdJournal } from '../../src/journal/index.js';

/** One member of a test etcd cluster: a real `etcd` process, stopped and restarted by PID. */
export interface EtcdMember {
  readonly name: string;
  /** The PID of the running process (0 while stopped). */
  readonly pid: number;
  readonly endpoint: string;
  /** SIGKILLs the process (by PID) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data directory. */
  start(): Promise<void>;
}

export interface EtcdCluster {
  /** Client URLs of all members, e.g. http://127.0.0.1:40123 (https:// with `tls`). */
  endpoints: string[];
  members: EtcdMember[];
  /** Kills every member by PID and removes the data directories. */
  stop(): Promise<void>;
}

/**
 * Client TLS of the members (PEM files): they serve https with `certFile`/`keyFile` and require a
 * client certificate issued by `caFile` (--client-cert-auth). Peers stay plain http. The helper's
 * own health checks present `clientCertFile`/`clientKeyFile`.
 */
export interface EtcdTestTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

export interface EtcdClusterOptions {
  members?: number;
  tls?: EtcdTestTls;
}

const ETCD = process.env.ETCD_BIN ?? '/usr/bin/etcd';

/**
 * Starts a real etcd cluster on loopback with ephemeral ports and temp data dirs, with fast raft
 * timing (heartbeat 50 ms, election timeout 500 ms: the minimum lease TTL is then 1 s), and
 * resolves once every member reports healthy.
 */
export async function startEtcdCluster(opts: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const count = opts.members ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'stratus-etcd-'));
  const token = `stratus-test-${randomUUID().slice(0, 8)}`;
  const ports = await freePorts(count * 2);
  const specs = Array.from({ length: count }, (_, i) => ({
    name: `m${i}`, client: ports[2 * i]!, peer: ports[2 * i + 1]!, dataDir: join(dir, `m${i}`),
  }));
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(',');
  const { tls } = opts;
  const scheme = tls ? 'https' : 'http';
  const tlsArgs = tls ? ['--cert-file', tls.certFile, '--key-file', tls.keyFile, '--trusted-ca-file', tls.caFile, '--client-cert-auth'] : [];
  const members = specs.map((s) => new EtcdProcess(s.name, `${scheme}://127.0.0.1:${s.client}`, [
    '--name', s.name, '--data-dir', s.dataDir,
    '--listen-client-urls', `${scheme}://127.0.0.1:${s.client}`, '--advertise-client-urls', `${scheme}://127.0.0.1:${s.client}`, ...tlsArgs,
    '--listen-peer-urls', `http://127.0.0.1:${s.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${s.peer}`,
    '--initial-cluster', initialCluster, '--initial-cluster-token', token, '--initial-cluster-state', 'new',
    '--heartbeat-interval', '50', '--election-timeout', '500', '--log-level', 'warn',
  ], join(dir, `${s.name}.log`), tls));
  const stopAll = async () => {
    await Promise.all(members.map((m) => m.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(members.map((m) => m.spawn()));
    await Promise.all(members.map((m) => m.waitHealthy()));
  } catch (e) {
    await stopAll();
    throw e;
  }
  return { endpoints: members.map((m) => m.endpoint), members, stop: stopAll };
}

/**
 * Starts a cluster before the tests of the enclosing suite (or file) and stops it after them;
 * the returned function gives the running cluster.
 */
export function useEtcdCluster(opts: EtcdClusterOptions = {}): () => EtcdCluster {
  let cluster: EtcdCluster | undefined;
  before(async () => {
    cluster = await startEtcdCluster(opts);
  });
  after(async () => {
    await cluster?.stop();
  });
  return () => {
    if (!cluster) throw new Error('the etcd cluster is not running');
    return cluster;
  };
}

/** A fresh key prefix, so tests can share one cluster without seeing each other's keys. */
export function freshPrefix(label = 't'): string {
  return `${label}-${randomUUID().slice(0, 8)}/`;
}

/** The children still running, killed by PID if the test process exits without stopping them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

class EtcdProcess implements EtcdMember {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string, readonly endpoint: string, private readonly args: string[], private readonly logPath: string, private readonly tls?: EtcdTestTls,
  ) {}

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  async spawn(): Promise<void> {
    const log = await open(this.logPath, 'a');
    const child = spawn(ETCD, this.args, { stdio: ['ignore', log.fd, log.fd] });
    await log.close();
    this.child = child;
    running.add(child);
    this.exited = new Promise((resolve) => child.once('exit', () => {
      running.delete(child);
      resolve();
    }));
  }

  async start(): Promise<void> {
    if (this.child) return;
    await this.spawn();
    await this.waitHealthy();
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  /** Polls the member's /health until it reports a healthy cluster view (it has a leader). */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`etcd ${this.name} exited; see ${this.logPath}`);
      const healthy = await this.health().then((body) => (JSON.parse(body) as { health?: string }).health === 'true').catch(() => false);
      if (healthy) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd ${this.name} not healthy within ${timeoutMs} ms; see ${this.logPath}`);
  }

  /** The body of the member's /health (over https with the client certificate if it has TLS). */
  private async health(): Promise<string> {
    const url = `${this.endpoint}/health`;
    if (!this.tls) return (await fetch(url, { signal: AbortSignal.timeout(1000) })).text();
    const [ca, cert, key] = await Promise.all([this.tls.caFile, this.tls.clientCertFile, this.tls.clientKeyFile].map((f) => readFile(f)));
    return new Promise((resolve, reject) => {
      const req = httpsGet(url, { ca, cert, key, timeout: 1000 }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
    });
  }
}

/** Ports the kernel hands out for port 0, released again for etcd to bind. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<import('node:net').Server>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/**
 * EtcdJournals on one fresh prefix, as a contract suite's engine under test sees them through
 * `view`: the first, a restart (`reopen`: the first closed, a new one opened), another process
 * (`second`), and `cleanup` closing every one opened.
 */
export function etcdJournalsUnderTest<T>(endpoints: string[], name: string, view: (journal: EtcdJournal) => T) {
  const prefix = freshPrefix(name);
  const opened = [new EtcdJournal({ endpoints, prefix })];
  const open = (): T => {
    const journal = new EtcdJournal({ endpoints, prefix });
    opened.push(journal);
    return view(journal);
  };
  return {
    first: view(opened[0]!),
    async reopen(): Promise<T> {
      await opened.shift()!.close();
      return open();
    },
    second: async (): Promise<T> => open(),
    async cleanup(): Promise<void> {
      for (const journal of opened) await journal.close();
    },
  };
}
