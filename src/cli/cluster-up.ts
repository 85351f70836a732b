import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { canMakeHosts, LocalHostsProvider } from '../placement/index.js';
import { StratusError } from '../shared/errors.js';
import { silentLogger } from '../shared/log.js';

export const CLUSTER_UP_USAGE = `  stratus cluster up [--workers 2] [--zones 2] [--port 9001] [--host 127.0.0.1] [--data-dir .stratus-cluster]
                 [--worker-memory-mb 1024] [--fleet-max N]   (root: workers are local-hosts)`;

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const ETCD = process.env.ETCD_BIN ?? '/usr/bin/etcd';
const STOP_GRACE_MS = 15_000;

interface Child {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  output(): string;
}

/**
 * `stratus cluster up`: a whole cluster on this machine to try: a 3-member etcd, two placement
 * replicas sharing `local-hosts` workers (N, over Z zones, scaling with traffic up to
 * --fleet-max; a replica that dies is taken over by the other, which adopts its hosts), three
 * assignment replicas and two frontends, every process a child of this one (the worker hosts in
 * sessions of their own), its output in `<data-dir>/run-<pid>/logs/`. Prints the Lambda API's
 * endpoint and the credentials; on SIGINT (or SIGTERM) stops them all by PID, newest first (the
 * last placement replica removes every host), removes whatever hosts are still recorded if no
 * placement replica was left to, and removes the run directory.
 */
export async function clusterUp(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { workers: { type: 'string' }, zones: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' }, 'worker-memory-mb': { type: 'string' }, 'fleet-max': { type: 'string' } },
  });
  if (positionals[0] !== 'up') throw new StratusError('InvalidParameterValue', `usage:\n${CLUSTER_UP_USAGE}`);
  const workers = count(values.workers ?? '2', 'workers', 1, 250);
  const zones = Array.from({ length: count(values.zones ?? '2', 'zones', 1, 26) }, (_, i) => `zone-${String.fromCharCode(97 + i)}`);
  const fleetMax = count(values['fleet-max'] ?? String(Math.max(workers, 4)), 'fleet-max', workers, 250);
  const can = await canMakeHosts();
  if (!can.ok) throw new StratusError('InvalidConfig', `stratus cluster up starts its workers as local hosts: ${can.reason}`);
  const host = values.host ?? '127.0.0.1';
  const dir = resolve(values['data-dir'] ?? '.stratus-cluster', `run-${process.pid}`);
  await mkdir(join(dir, 'logs'), { recursive: true, mode: 0o700 });
  const credentials = {
    STRATUS_ACCESS_KEY_ID: env.STRATUS_ACCESS_KEY_ID || `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
    STRATUS_SECRET_ACCESS_KEY: env.STRATUS_SECRET_ACCESS_KEY || randomBytes(20).toString('hex'),
  };
  const children: Child[] = [];
  const placementDir = join(dir, 'placement');
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    for (const c of [...children].reverse()) await stop(c);
    // Every placement replica crashed: nobody removed the hosts (they outlive it); do it from their record.
    await LocalHostsProvider.removeAbandoned(join(placementDir, 'local-hosts'), silentLogger())
      .catch((err: unknown) => process.stderr.write(`removing the worker hosts failed: ${String(err)}\n`));
    await rm(dir, { recursive: true, force: true });
  };
  const signalled = new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  try {
    const launch = async (name: string, command: string, argv: string[], ready: RegExp) => {
      const c = start(name, command, argv, { ...process.env, ...credentials }, join(dir, 'logs', `${name}.log`));
      children.push(c);
      return waitFor(c, ready);
    };
    const ports = await freePorts(6);
    const peers = [0, 1, 2].map((i) => `m${i}=http://127.0.0.1:${ports[2 * i + 1]}`).join(',');
    const endpoints = [0, 1, 2].map((i) => `http://127.0.0.1:${ports[2 * i]}`);
    for (let i = 0; i < 3; i++) children.push(start(`etcd-${i}`, ETCD, [
      '--name', `m${i}`, '--data-dir', join(dir, `etcd-${i}`), '--listen-client-urls', endpoints[i] ?? '', '--advertise-client-urls', endpoints[i] ?? '',
      '--listen-peer-urls', `http://127.0.0.1:${ports[2 * i + 1]}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${ports[2 * i + 1]}`,
      '--initial-cluster', peers, '--initial-cluster-state', 'new', '--initial-cluster-token', `stratus-${process.pid}`,
      '--heartbeat-interval', '50', '--election-timeout', '500', '--log-level', 'warn',
    ], process.env, join(dir, 'logs', `etcd-${i}.log`)));
    await Promise.all(endpoints.map((e) => until(() => fetch(`${e}/health`).then(async (r) => (await r.text()).includes('"health":"true"'), () => false), `etcd at ${e}`, children)));
    const etcd = ['--etcd', endpoints.join(','), '--log-level', 'info'];
    // Two placement replicas on one data directory: they share its local hosts (each listens at its own address of their bridge).
    // One after the other: the first makes the cluster's CA (two first starts at once could each make one).
    const placements: RegExpExecArray[] = [];
    for (let i = 0; i < 2; i++) {
      placements.push(await launch(`placement-${i}`, process.execPath, [
        MAIN, 'placement', ...etcd, '--id', `placement-${i}`, '--data-dir', placementDir, '--worker-provider', 'local-hosts',
        '--fleet-min', String(workers), '--fleet-max', String(fleetMax), '--fleet-zones', zones.join(','), '--worker-memory-mb', values['worker-memory-mb'] ?? '1024',
      ], /serving on (\S+)[\s\S]*Metrics \(Prometheus\) on (\S+)/));
    }
    const placementChildren = children.filter((c) => c.name.startsWith('placement-'));
    for (const c of placementChildren) {
      void c.exited.then(() => !stopping && process.stdout.write(`${c.name} exited; the other placement replica carries on (see ${join(dir, 'logs', `${c.name}.log`)})\n`));
    }
    for (let i = 0; i < 3; i++) await launch(`assignment-${i}`, process.execPath, [MAIN, 'assignment', ...etcd, '--id', `assignment-${i}`, '--host', host], /serving on (\S+)/);
    const frontends: string[] = [];
    for (let i = 0; i < 2; i++) {
      const m = await launch(`frontend-${i}`, process.execPath, [MAIN, 'frontend', ...etcd, '--id', `frontend-${i}`, '--host', host, '--port', i === 0 ? (values.port ?? '9001') : '0'], /serving on (\S+)/);
      frontends.push(m[1] ?? '');
    }
    await waitForFleet(placements.map((p) => p[2] ?? ''), workers, children);
    process.stdout.write([
      `Stratus cluster is up: 3 etcd members, 2 placement replicas, 3 assignment replicas, 2 frontends, ${workers} workers (local hosts) in ${zones.join(', ')}.`,
      `Lambda API: ${frontends.join(' and ')}   (placement: ${placements.map((p) => p[1]).join(' and ')}, their metrics: ${placements.map((p) => p[2]).join(' and ')})`,
      `  export AWS_ACCESS_KEY_ID=${credentials.STRATUS_ACCESS_KEY_ID} AWS_SECRET_ACCESS_KEY=${credentials.STRATUS_SECRET_ACCESS_KEY} AWS_DEFAULT_REGION=us-east-1`,
      `  aws lambda list-functions --endpoint-url ${frontends[0]}`,
      `Logs in ${join(dir, 'logs')}. Ctrl-C stops every process and removes everything made for them.`, '',
    ].join('\n'));
    // Any process exiting ends the cluster, except one placement replica of the two.
    await Promise.race([signalled, ...children.filter((c) => !placementChildren.includes(c)).map((c) => c.exited.then(() => {
      throw new Error(`${c.name} exited:\n${c.output().slice(-2000)}`);
    })), Promise.all(placementChildren.map((c) => c.exited)).then(() => {
      throw new Error(`every placement replica exited:\n${placementChildren.map((c) => c.output().slice(-1000)).join('\n')}`);
    })]);
    process.stdout.write('Stratus cluster is stopping\n');
    return 0;
  } finally {
    await stopAll();
  }
}

function count(v: string, name: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new StratusError('InvalidParameterValue', `--${name} must be an integer from ${min} to ${max}`);
  return n;
}

function start(name: string, command: string, argv: string[], env: NodeJS.ProcessEnv, logFile: string): Child {
  const child = spawn(command, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile, { mode: 0o600 });
  let output = '';
  const take = (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
    log.write(d);
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const exited = new Promise<void>((done) => child.once('exit', () => (log.end(), done())));
  return { name, child, exited, output: () => output };
}

function waitFor(c: Child, ready: RegExp): Promise<RegExpExecArray> {
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`${c.name} did not start:\n${c.output().slice(-2000)}`)), 60_000);
    const check = () => {
      const m = ready.exec(c.output());
      if (m) (clearTimeout(timer), done(m));
    };
    c.child.stdout?.on('data', check);
    c.child.stderr?.on('data', check);
    void c.exited.then(() => (clearTimeout(timer), fail(new Error(`${c.name} exited:\n${c.output().slice(-2000)}`))));
  });
}

/** Until the placement leader's metrics (whichever replica leads) show `workers` active workers. */
function waitForFleet(metricsUrls: string[], workers: number, children: Child[]): Promise<void> {
  return until(async () => {
    const texts = await Promise.all(metricsUrls.map((u) => fetch(u).then((r) => r.text(), () => '')));
    return texts.some((text) => Number(/stratus_fleet_workers\{state="active"\} (\d+)/.exec(text)?.[1] ?? 0) >= workers);
  }, `the ${workers} workers to join`, children);
}

/** Polls `check` every 200 ms for up to 2 minutes, failing early if a process of the cluster exits. */
async function until(check: () => Promise<boolean>, what: string, children: Child[]): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    const dead = children.find((c) => c.child.exitCode !== null || c.child.signalCode !== null);
    if (dead) throw new Error(`${dead.name} exited while waiting for ${what}:\n${dead.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what} (see the logs)`);
}

async function stop(c: Child): Promise<void> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  c.child.kill('SIGTERM');
  const timer = setTimeout(() => c.child.kill('SIGKILL'), STOP_GRACE_MS);
  await c.exited;
  clearTimeout(timer);
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((done) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => done(s));
  })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  return ports;
}

