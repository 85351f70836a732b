import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock, type TimerHandle } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { createHost, makeCgroups, processRunning, processStartTime } from './host-network.js';
import { checkHostRecord, makeNet, removeGarbage, removeHost, REPLICA_OCTETS } from './local-hosts-net.js';
import { HostsState, MAX_REPLICAS, type Garbage, type HostRecord, type NetRecord, type Proc } from './local-hosts-state.js';
import type { WorkerBundle } from './worker-credentials.js';
import type { ProvidedWorker, WorkerProvider, WorkerSpec } from './worker-provider.js';

export { freeHostSlot } from './local-hosts-state.js';

export interface LocalHostsOptions {
  /** Where the provider records what it made (`hosts.db`) and keeps each worker's directory: the same for every placement replica of this machine. */
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
  /** Timers of the supervision (default: the system clock). */
  clock?: Clock;
  /** How often the acting provider looks whether each host's worker still runs (default 1 s; its own children are noticed at once). */
  superviseMs?: number;
  /**
   * Whether this replica leads now, by its own clock (placement's fencing). A provider that took
   * the fence and finds it taken since (by a replica deposed before it, which took it late) takes
   * it back only while this holds. Default: never.
   */
  mayAct?(): boolean;
}

const STOP_GRACE_MS = 10_000;

/** What of placement's environment a worker is given: what it and the tools it runs (tar, ip, node) read, nothing of placement's own (credentials). */
const WORKER_ENV = new Set(['PATH', 'HOME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'NODE_OPTIONS', 'NODE_V8_COVERAGE', 'NODE_EXTRA_CA_CERTS', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);

export function workerEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => WORKER_ENV.has(name)));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `local-hosts`: each worker a host of its own on this machine: a `stratus worker` process in its
 * own network namespace (a veth pair to a bridge, its own address in a private /24, no route
 * beyond it), its own data directory and cgroup subtree, in its own session (it outlives the
 * placement replica that started it). Every placement replica of the machine opens the same
 * state (`HostsState`): they share the bridge, each listening at its own address of it on one
 * port, and every worker is given all of them. Only the provider that `lead`s (the placement
 * leader's) acts on hosts, fenced by the state's generation; it supervises them (a host whose
 * worker exited is removed and reported `gone`). The last replica to close removes everything;
 * the first to open after all crashed removes what they recorded.
 */
export class LocalHostsProvider implements WorkerProvider {
  readonly kind = 'local-hosts';
  readonly canScale = true;
  /** This replica's address on the bridge: where placement listens for the workers. */
  readonly address: string;
  private generation: number | undefined;
  /** Counts leads and stand-downs: a supervision loop runs only in the term that started it. */
  private term = 0;
  private readonly children = new Map<string, ChildProcess>();
  /** A host's start, stop or removal under way: one at a time per host. */
  private readonly busy = new Map<string, Promise<void>>();
  private readonly goneListeners: ((worker: ProvidedWorker) => void)[] = [];
  private supervisor: TimerHandle | undefined;
  private controlPlane: string | undefined;
  private closed = false;

  private constructor(
    private readonly opts: LocalHostsOptions,
    private readonly db: HostsState,
    private readonly me: Proc,
    private readonly net: NetRecord,
    slot: number,
  ) {
    this.address = `${net.subnet}.${REPLICA_OCTETS[slot] ?? 1}`;
  }

  /** Joins this machine's local hosts: the first replica (or the first after all crashed) removes what was recorded and makes the bridge. */
  static async open(opts: LocalHostsOptions): Promise<LocalHostsProvider> {
    await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });
    const me = { pid: process.pid, startTime: processStartTime(process.pid) ?? '', token: randomBytes(6).toString('hex') };
    const db = new HostsState(opts.stateDir);
    try {
      for (let i = 0; ; i++) {
        const joined = db.join(me);
        if (joined.role === 'joiner') return new LocalHostsProvider(opts, db, me, joined.net, joined.slot);
        if (joined.role === 'maker') {
          const net = await makeNet(db, joined.garbage, opts).catch(async (err: unknown) => {
            // What it made is recorded: removed now, so the next replica to open need not wait for this process to end.
            const garbage = db.leave(me);
            if (garbage) await removeGarbage(db, garbage, opts.stateDir, opts).then(() => db.left(me), (e: unknown) => opts.log.warn({ err: e }, 'local-hosts: removing a half-made bridge failed'));
            throw err;
          });
          return new LocalHostsProvider(opts, db, me, net, 0);
        }
        if (i >= 600) throw new StratusError('InvalidConfig', `local-hosts: ${opts.stateDir} stays busy (pid ${joined.busy.pid} is making or removing its hosts)`);
        await sleep(100);
      }
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Removes what `stateDir` records if no placement replica is left alive to (after every replica crashed). */
  static async removeAbandoned(stateDir: string, log: Logger): Promise<void> {
    if (!existsSync(join(stateDir, 'hosts.db'))) return;
    const db = new HostsState(stateDir);
    try {
      const me = { pid: process.pid, startTime: processStartTime(process.pid) ?? '', token: randomBytes(6).toString('hex') };
      const garbage = db.leave(me);
      if (!garbage) return;
      await removeGarbage(db, garbage, stateDir, { revokeCredential: async () => undefined, log });
      db.left(me);
    } finally {
      db.close();
    }
  }

  /** What `stateDir` records now: the net, the hosts, what is left to remove, the live replicas (for tests and tools). */
  static recorded(stateDir: string): { net?: NetRecord; hosts: HostRecord[]; garbage: Garbage[]; replicas: number } {
    const db = new HostsState(stateDir);
    try {
      const net = db.net();
      return { ...(net ? { net } : {}), hosts: db.hosts(), garbage: db.garbage(), replicas: db.replicas().length };
    } finally {
      db.close();
    }
  }

  /** The port every replica listens on (each at its own address). */
  get port(): number {
    return this.net.port;
  }

  /** The control plane's URL as the workers reach this replica; set once it listens. */
  setControlPlane(url: string): void {
    this.controlPlane = url;
  }

  /**
   * Starts acting on the hosts (this replica leads): once `mayAct` holds, takes the fence,
   * removes hosts whose worker is gone, supervises the rest. A host it cannot remove yet
   * is logged and tried again at the next look; the supervision runs all the same.
   */
  async lead(): Promise<void> {
    const term = ++this.term;
    this.supervisor?.cancel();
    this.supervisor = undefined;
    this.generation = undefined;
    const clock = this.opts.clock ?? systemClock;
    // The fence is never taken while this replica does not lead by its own clock (placement's holds
    // once its take-over is done): until then this waits, and is refused once it stands down.
    while (this.opts.mayAct && !this.opts.mayAct()) {
      if (this.term !== term || this.closed) throw new StratusError('Fenced', 'local-hosts: this placement replica stood down before it led by its own clock: it took no fence');
      await sleep(Math.min(this.opts.superviseMs ?? 1000, 100));
    }
    if (this.term !== term || this.closed) throw new StratusError('Fenced', 'local-hosts: this placement replica stood down before it led: it took no fence');
    const generation = this.db.lead(this.me);
    this.generation = generation;
    this.opts.log.info({ generation, hosts: this.db.hosts().map((h) => h.id) }, 'local-hosts: acting on the recorded hosts');
    const look = () => this.supervise().catch((err: unknown) => this.opts.log.warn({ err }, 'local-hosts: supervising the hosts failed'));
    const next = () => {
      if (this.term === term) this.supervisor = clock.setTimer(this.opts.superviseMs ?? 1000, () => void look().finally(next));
    };
    // Armed before the first look, which may take long (removing hosts) or fail: the looks go on regardless.
    next();
    await look();
  }

  /** Stops acting on the hosts (another replica leads now); they stay. */
  async standDown(): Promise<void> {
    this.generation = undefined;
    this.term++;
    this.supervisor?.cancel();
    this.supervisor = undefined;
    await Promise.allSettled([...this.busy.values()]);
  }

  /** `listener` learns of each host removed because its worker process was gone (crashed, killed). */
  onGone(listener: (worker: ProvidedWorker) => void): void {
    this.goneListeners.push(listener);
  }

  async start(spec: WorkerSpec): Promise<ProvidedWorker> {
    const generation = this.acting();
    if (!this.controlPlane) throw new StratusError('Internal', 'local-hosts: the control plane URL is not set yet');
    // Ids are never reused (a revoked credential stays revoked), nor the names made after them; the address slot is the lowest free one.
    const tag = `${this.net.run}-${this.db.nextSeq(generation).toString(36)}`;
    const id = `lh-${tag}`;
    let record: HostRecord | undefined;
    await this.exclusive(id, async () => {
      const r = this.db.addHost(generation, (slot) => ({
        id, slot, zone: spec.zone, netns: `stratus-${tag}`, veth: `sv-${tag}`, address: `${this.net.subnet}.${slot + 1}`,
        dir: join(this.opts.stateDir, id), cgroups: this.net.cgroups.map((d) => join(d, id)), starter: this.me,
      }));
      let child: ChildProcess | undefined;
      try {
        await createHost(r, `sp-${tag}`, this.net.bridge);
        await makeCgroups(r.cgroups);
        await mkdir(join(r.dir, 'data'), { recursive: true, mode: 0o700 });
        const bundle = join(r.dir, 'credentials.json');
        await writeFile(bundle, JSON.stringify(await this.opts.issueCredential(id)), { mode: 0o600 });
        this.db.fenced(generation, () => undefined);
        child = this.spawnWorker(r, bundle);
        r.pid = child.pid;
        r.startTime = child.pid ? processStartTime(child.pid) : undefined;
        delete r.starter;
        this.db.putHost(generation, r);
        this.watch(r, child);
        record = r;
      } catch (err) {
        // Its names are its own (never reused), and while its record names this live replica as its starter no other
        // replica removes it: this one removes what it made, even if deposed meanwhile, then forgets it.
        child?.kill('SIGKILL');
        await removeHost({ ...r, ...(child?.pid ? { pid: child.pid, startTime: processStartTime(child.pid) } : {}) }, this.opts)
          .then(() => this.db.dropStart(id, this.me), (e: unknown) => {
            this.opts.log.warn({ err: e, worker: id }, 'local-hosts: removing a host that failed to start failed; left to the leader');
            this.db.dropStart(id, this.me, false);
          });
        throw err;
      }
    });
    if (!record) throw new StratusError('Internal', `local-hosts: host ${id} was not started`);
    this.opts.log.info({ worker: id, zone: spec.zone, address: record.address, pid: record.pid }, 'local-hosts: worker host started');
    return describe(record);
  }

  async stop(workerId: string): Promise<void> {
    const generation = this.acting();
    await this.exclusive(workerId, async () => {
      const r = this.db.host(workerId);
      if (!r) throw new StratusError('ResourceNotFound', `local-hosts did not start worker ${workerId} (or it is gone)`);
      this.db.fenced(generation, () => undefined);
      await this.terminate(r);
      await this.removeOwn(r, generation);
    });
    this.opts.log.info({ worker: workerId }, 'local-hosts: worker host removed');
  }

  /** The hosts recorded (by whichever replica started them) and not removed. */
  list(): ProvidedWorker[] {
    return this.closed ? [] : this.db.hosts().map(describe);
  }

  /** Leaves: the last replica alive stops every host and removes everything; others leave the hosts to the next leader. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.standDown();
    this.closed = true;
    try {
      const garbage = this.db.leave(this.me);
      if (garbage) {
        try {
          await Promise.all(garbage.map((g) => (g.kind === 'host' ? this.terminate(g.host) : undefined)));
          await removeGarbage(this.db, garbage, this.opts.stateDir, this.opts);
          this.db.left(this.me);
        } catch (err) {
          // What is left stays recorded as garbage, no longer busy: the next replica to open removes it.
          this.db.release(this.me);
          throw err;
        }
      } else {
        this.opts.log.info({ hosts: this.db.hosts().map((h) => h.id) }, 'local-hosts: leaving the hosts to the other placement replicas');
      }
    } finally {
      for (const child of this.children.values()) child.removeAllListeners('exit');
      this.db.close();
    }
  }

  /**
   * The generation to act under: `Fenced` unless this replica leads by its own clock (`mayAct`,
   * when given) and holds the fence (taken back if a replica deposed before it took it since).
   */
  private acting(): number {
    if (this.generation === undefined || this.closed) throw new StratusError('Fenced', 'local-hosts: this placement replica does not lead: it acts on no host');
    const leads = this.opts.mayAct?.();
    if (leads === false) throw new StratusError('Fenced', 'local-hosts: this placement replica was deposed (by its own clock): it acts on no host');
    if (this.db.holds(this.generation)) return this.generation;
    if (!leads) throw new StratusError('Fenced', `local-hosts: another placement replica took the fence from generation ${this.generation}: this one acts on no host`);
    this.generation = this.db.lead(this.me);
    this.opts.log.warn({ generation: this.generation }, 'local-hosts: the fence was taken by a replica deposed before this one; taken back');
    return this.generation;
  }

  /** Throws `Fenced` unless `generation` is still this provider's and holds the fence (asked before each step of a removal). */
  private stillActing(generation: number): void {
    if (this.generation !== generation || this.closed || this.opts.mayAct?.() === false || !this.db.holds(generation)) {
      throw new StratusError('Fenced', `local-hosts: generation ${generation} no longer acts on the hosts: nothing more is removed`);
    }
  }

  /** Runs `step` after any step under way for host `id`. */
  private exclusive(id: string, step: () => Promise<void>): Promise<void> {
    const next = (this.busy.get(id) ?? Promise.resolve()).catch(() => undefined).then(step);
    this.busy.set(id, next);
    void next.catch(() => undefined).finally(() => this.busy.get(id) === next && this.busy.delete(id));
    return next;
  }

  /**
   * Removes, as crashed, each recorded host whose worker process is gone (or was never recorded
   * and its starter is gone: it died, or left, starting it). A host that cannot be removed now is
   * logged and looked at again next time; the others are not held up.
   */
  private async supervise(): Promise<void> {
    const generation = this.acting();
    for (const h of this.db.hosts()) {
      if (this.busy.has(h.id) || processRunning(h.pid, h.startTime) || this.db.starting(h)) continue;
      await this.lose(h.id, generation, h.pid ? 'its worker process is gone' : 'its starter is gone and its worker never ran')
        .catch((err: unknown) => this.opts.log.warn({ err, worker: h.id }, 'local-hosts: removing a lost host failed; tried again at the next look'));
    }
  }

  private lose(id: string, generation: number, reason: string): Promise<void> {
    return this.exclusive(id, async () => {
      // Looked at again as recorded now: a host that finished starting since is no loss.
      const r = this.closed ? undefined : this.db.host(id);
      if (!r || this.generation !== generation || processRunning(r.pid, r.startTime) || this.db.starting(r)) return;
      this.stillActing(generation);
      this.opts.log.warn({ worker: id, pid: r.pid, reason }, 'local-hosts: a worker host lost its worker: removing it');
      await this.removeOwn(r, generation);
      for (const listener of this.goneListeners) listener(describe(r));
    });
  }

  /** Its own children's exits are noticed at once (others' by the supervision's look). */
  private watch(r: HostRecord, child: ChildProcess): void {
    this.children.set(r.id, child);
    child.once('exit', () => {
      this.children.delete(r.id);
      const generation = this.generation;
      if (generation !== undefined && !this.closed) void this.lose(r.id, generation, 'its worker process exited').catch((err: unknown) => this.opts.log.warn({ err, worker: r.id }, 'local-hosts: removing a lost host failed'));
    });
  }

  /** SIGTERM to the host's worker (its own child, or by pid and start time), SIGKILL after the grace time (by `removeHost`). */
  private async terminate(r: HostRecord): Promise<void> {
    const child = this.children.get(r.id);
    if (!processRunning(r.pid, r.startTime) || !r.pid) return;
    if (child) child.kill('SIGTERM');
    else process.kill(r.pid, 'SIGTERM');
    for (let waited = 0; waited < STOP_GRACE_MS && processRunning(r.pid, r.startTime); waited += 100) await sleep(100);
  }

  /**
   * Removes a host and then its record (forgotten only once removed: a failed removal is tried
   * again), each step only while `generation` still holds the fence; a record naming what this
   * provider never makes is refused (`hostRecordProblem`).
   */
  private async removeOwn(r: HostRecord, generation: number): Promise<void> {
    checkHostRecord(r, this.opts.stateDir, this.net);
    await removeHost(r, this.opts, () => this.stillActing(generation));
    this.children.delete(r.id);
    this.db.deleteHost(generation, r.id);
  }

  /** Every replica's URL, this one's first: a worker follows whichever leads. */
  private controlPlanes(): string {
    const own = new URL(this.controlPlane ?? '');
    const others = REPLICA_OCTETS.slice(0, MAX_REPLICAS).map((o) => `${own.protocol}//${this.net.subnet}.${o}:${this.net.port}`);
    return [...new Set([own.origin, ...others])].join(',');
  }

  /** `stratus worker` in the host's namespace and its own session, joined to its cgroups before it execs (so everything it starts is in them). */
  private spawnWorker(r: HostRecord, bundle: string): ChildProcess {
    const args = [
      ...this.opts.command, 'worker', '--control-plane', this.controlPlanes(), '--credentials', bundle,
      '--host', r.address, '--port', '0', '--data-dir', join(r.dir, 'data'), '--zone', r.zone, ...(this.opts.workerArgs ?? []),
    ];
    const env: NodeJS.ProcessEnv = { ...workerEnvironment(process.env), STRATUS_CGROUP_PROCS: r.cgroups.map((d) => join(d, 'cgroup.procs')).join(' ') };
    const out = openSync(join(r.dir, 'worker.log'), 'a', 0o600);
    try {
      const child = spawn('/bin/sh', ['-c', 'for f in $STRATUS_CGROUP_PROCS; do echo $$ > "$f" || exit 1; done; exec "$@"', 'sh', 'ip', 'netns', 'exec', r.netns, ...args], {
        env, stdio: ['ignore', out, out], detached: true,
      });
      child.unref();
      return child;
    } finally {
      closeSync(out);
    }
  }
}

function describe(r: HostRecord): ProvidedWorker {
  return { id: r.id, zone: r.zone, address: r.address, ...(r.pid ? { pid: r.pid } : {}) };
}
