import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import {
  cgroupDirs, cgroupPids, createBridge, createHost, deleteBridge, deleteHost, freeSubnet, makeCgroups, processStartTime, removeCgroups, writeAtomically,
} from './host-network.js';
import type { WorkerBundle } from './worker-credentials.js';
import type { ProvidedWorker, WorkerProvider, WorkerSpec } from './worker-provider.js';

export interface LocalHostsOptions {
  /** Where the provider records what it made (`state.json`) and keeps each worker's directory. */
  stateDir: string;
  /** The argv that runs the `stratus` command line (node and its main script). */
  command: string[];
  /** More flags for every `stratus worker` (memory, log level, ...). */
  workerArgs?: string[];
  /** A new credential for a worker id (what `stratus workers add` does). */
  issueCredential(workerId: string): Promise<WorkerBundle>;
  /** Revokes a worker's credential once its host is gone. */
  revokeCredential(workerId: string): Promise<void>;
  log: Logger;
}

/** One host as recorded in the state file: enough to remove it after a crash of this process. */
interface HostRecord {
  id: string;
  /** Its number in the /24 (address `.slot+1`, namespace and veth names), reused once the host is removed. */
  slot?: number;
  zone: string;
  netns: string;
  veth: string;
  address: string;
  dir: string;
  cgroups: string[];
  pid?: number;
  startTime?: string;
}

interface State {
  /** The process that made this state (a placement replica): its records are removed only once it is gone. */
  owner?: { pid: number; startTime?: string };
  bridge: string;
  cgroups: string[];
  hosts: HostRecord[];
}

const STOP_GRACE_MS = 10_000;
/** Addresses .2 to .251 of the bridge's /24. */
const MAX_HOSTS = 250;

/** What of placement's environment a worker is given: what it and the tools it runs (tar, ip, node) read, nothing of placement's own (credentials). */
const WORKER_ENV = new Set(['PATH', 'HOME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'NODE_OPTIONS', 'NODE_V8_COVERAGE', 'NODE_EXTRA_CA_CERTS', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);

export function workerEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => WORKER_ENV.has(name)));
}

/** The lowest host slot (1..max) not in use, or undefined when all are. */
export function freeHostSlot(used: Iterable<number>, max = MAX_HOSTS): number | undefined {
  const taken = new Set(used);
  for (let n = 1; n <= max; n++) if (!taken.has(n)) return n;
  return undefined;
}

/**
 * `local-hosts`: each worker a host of its own on this machine: a `stratus worker` process in its
 * own network namespace (a veth pair to a bridge this provider makes, its own address in a
 * private /24, no route beyond it), its own data directory and cgroup subtree. The control plane
 * listens on the bridge's address (`address`). Everything made is recorded in a state file
 * (with the owning process) before it is made; `stop`/`close` remove it, and `open` first
 * removes whatever a crashed earlier run recorded, refusing while that run is still alive.
 */
export class LocalHostsProvider implements WorkerProvider {
  readonly kind = 'local-hosts';
  readonly canScale = true;
  private readonly hosts = new Map<string, { record: HostRecord; child?: ChildProcess; exited: Promise<void> }>();
  private next = 1;
  private controlPlane: string | undefined;
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly opts: LocalHostsOptions,
    private readonly run: string,
    private readonly state: State,
    /** The bridge's address: the control plane's address for the workers. */
    readonly address: string,
  ) {}

  /** Removes what an earlier run left, then makes this run's bridge and cgroup root. */
  static async open(opts: LocalHostsOptions): Promise<LocalHostsProvider> {
    await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });
    await cleanUpRecorded(opts);
    const run = randomBytes(3).toString('hex');
    const state: State = { owner: { pid: process.pid, startTime: processStartTime(process.pid) }, bridge: `stb-${run}`, cgroups: cgroupDirs(`stratus-hosts-${run}`), hosts: [] };
    await writeAtomically(statePath(opts), JSON.stringify(state));
    try {
      await makeCgroups(state.cgroups);
      const address = await createBridge(state.bridge, await freeSubnet());
      return new LocalHostsProvider(opts, run, state, address);
    } catch (err) {
      await cleanUpRecorded(opts, true);
      throw err;
    }
  }

  /** The control plane's URL as the workers reach it (on the bridge); set once it listens. */
  setControlPlane(url: string): void {
    this.controlPlane = url;
  }

  async start(spec: WorkerSpec): Promise<ProvidedWorker> {
    if (!this.controlPlane) throw new StratusError('Internal', 'local-hosts: the control plane URL is not set yet');
    // Ids are never reused (a revoked credential stays revoked); the slot (namespace, veth, address) is the lowest free one.
    const n = freeHostSlot(this.state.hosts.map((h) => h.slot ?? 0));
    if (n === undefined) throw new StratusError('InvalidParameterValue', `local-hosts: at most ${MAX_HOSTS} workers at a time`);
    const id = `lh-${this.run}-${this.next++}`;
    const record: HostRecord = {
      id, slot: n, zone: spec.zone, netns: `stratus-${this.run}-${n}`, veth: `sv-${this.run}-${n}`, address: this.address.replace(/\.1$/, `.${n + 1}`),
      dir: join(this.opts.stateDir, id), cgroups: this.state.cgroups.map((d) => join(d, id)),
    };
    this.state.hosts.push(record);
    await this.save();
    try {
      await createHost(record, `sp-${this.run}-${n}`, this.state.bridge);
      await makeCgroups(record.cgroups);
      await mkdir(join(record.dir, 'data'), { recursive: true, mode: 0o700 });
      const bundle = join(record.dir, 'credentials.json');
      await writeFile(bundle, JSON.stringify(await this.opts.issueCredential(id)), { mode: 0o600 });
      const child = this.spawnWorker(record, bundle);
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      record.pid = child.pid;
      record.startTime = child.pid ? processStartTime(child.pid) : undefined;
      this.hosts.set(id, { record, child, exited });
      await this.save();
      this.opts.log.info({ worker: id, zone: spec.zone, address: record.address, pid: child.pid }, 'local-hosts: worker host started');
      return this.describe(record);
    } catch (err) {
      await this.remove(record);
      throw err;
    }
  }

  async stop(workerId: string): Promise<void> {
    const host = this.hosts.get(workerId);
    if (!host) throw new StratusError('ResourceNotFound', `local-hosts did not start worker ${workerId}`);
    if (host.child && host.child.exitCode === null && host.child.signalCode === null) {
      host.child.kill('SIGTERM');
      const timer = setTimeout(() => host.child?.kill('SIGKILL'), STOP_GRACE_MS);
      await host.exited;
      clearTimeout(timer);
    }
    await this.remove(host.record);
    // Forgotten only once removed: a failed removal is tried again by the next stop.
    this.hosts.delete(workerId);
    this.opts.log.info({ worker: workerId }, 'local-hosts: worker host removed');
  }

  list(): ProvidedWorker[] {
    return [...this.hosts.values()].map((h) => this.describe(h.record));
  }

  async close(): Promise<void> {
    await Promise.all([...this.hosts.keys()].map((id) => this.stop(id)));
    await removeCgroups(this.state.cgroups);
    await deleteBridge(this.state.bridge);
    await this.saving.catch(() => undefined);
    await rm(statePath(this.opts), { force: true });
  }

  private describe(r: HostRecord): ProvidedWorker {
    return { id: r.id, zone: r.zone, address: r.address, ...(r.pid ? { pid: r.pid } : {}) };
  }

  /** `stratus worker` in the host's namespace, joined to its cgroups before it execs (so everything it starts is in them). */
  private spawnWorker(r: HostRecord, bundle: string): ChildProcess {
    const args = [
      ...this.opts.command, 'worker', '--control-plane', this.controlPlane ?? '', '--credentials', bundle,
      '--host', r.address, '--port', '0', '--data-dir', join(r.dir, 'data'), '--zone', r.zone, ...(this.opts.workerArgs ?? []),
    ];
    const env: NodeJS.ProcessEnv = { ...workerEnvironment(process.env), STRATUS_CGROUP_PROCS: r.cgroups.map((d) => join(d, 'cgroup.procs')).join(' ') };
    const out = openSync(join(r.dir, 'worker.log'), 'a', 0o600);
    try {
      return spawn('/bin/sh', ['-c', 'for f in $STRATUS_CGROUP_PROCS; do echo $$ > "$f" || exit 1; done; exec "$@"', 'sh', 'ip', 'netns', 'exec', r.netns, ...args], {
        env, stdio: ['ignore', out, out],
      });
    } finally {
      closeSync(out);
    }
  }

  /** Removes one host's namespace, veth, cgroups, directory and credential, and forgets it. */
  private async remove(r: HostRecord): Promise<void> {
    await removeHost(r, this.opts);
    this.state.hosts = this.state.hosts.filter((h) => h.id !== r.id);
    await this.save();
  }

  /** Writes the state file; one write at a time, each of the state as it is then. */
  private save(): Promise<void> {
    this.saving = this.saving.catch(() => undefined).then(() => writeAtomically(statePath(this.opts), JSON.stringify(this.state)));
    return this.saving;
  }
}

function statePath(opts: Pick<LocalHostsOptions, 'stateDir'>): string {
  return join(opts.stateDir, 'state.json');
}

/** Kills what is left of a host (its recorded process if still the same one, then anything in its cgroups) and removes it. */
async function removeHost(r: HostRecord, opts: LocalHostsOptions): Promise<void> {
  if (r.pid && r.startTime && processStartTime(r.pid) === r.startTime) killQuietly(r.pid);
  for (let i = 0; i < 50; i++) {
    const pids = await cgroupPids(r.cgroups);
    if (pids.length === 0) break;
    for (const pid of pids) killQuietly(pid);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await removeCgroups(r.cgroups);
  await deleteHost(r);
  await rm(r.dir, { recursive: true, force: true });
  await opts.revokeCredential(r.id).catch((err: unknown) => opts.log.warn({ err, worker: r.id }, 'local-hosts: revoking a removed worker\'s credential failed'));
}

/** Whether the process that wrote a state is still running (the same pid started at the same time). */
function ownerAlive(state: State): boolean {
  const o = state.owner;
  return o !== undefined && o.startTime !== undefined && processStartTime(o.pid) === o.startTime;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * A crashed earlier run's hosts, cgroups and bridge, as its state file recorded them. Refuses
 * while the run that recorded them is alive (another placement replica on the same data dir):
 * its workers are not ours to remove.
 */
async function cleanUpRecorded(opts: LocalHostsOptions, mine = false): Promise<void> {
  const text = await readFile(statePath(opts), 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const state = JSON.parse(text) as State;
  if (!mine && ownerAlive(state)) {
    throw new StratusError('InvalidConfig', `local-hosts: ${opts.stateDir} belongs to a running process (pid ${state.owner?.pid}); `
      + 'local-hosts serves one placement replica: give each replica its own data directory');
  }
  for (const host of state.hosts) await removeHost(host, opts);
  await removeCgroups(state.cgroups);
  await deleteBridge(state.bridge);
  await rm(statePath(opts), { force: true });
  opts.log.warn({ hosts: state.hosts.map((h) => h.id), bridge: state.bridge }, 'local-hosts: removed what an earlier run left');
}
