import Database from 'better-sqlite3';
import { join } from 'node:path';
import { StratusError } from '../shared/errors.js';
import { processRunning } from './host-network.js';

/** A process, told from a later one with the same pid by its start time. */
export interface Proc {
  pid: number;
  startTime: string;
  /** Tells replicas in one process apart (tests run several). */
  token: string;
}

/** One host as recorded: enough for any replica to remove it, after a crash of whoever made it. */
export interface HostRecord {
  id: string;
  /** Its address's number in the /24 (`.slot+1`), reused once the host is removed. */
  slot: number;
  zone: string;
  /** Named after the id (never reused), so removing one host can never remove a later one's. */
  netns: string;
  veth: string;
  address: string;
  dir: string;
  cgroups: string[];
  pid?: number;
  startTime?: string;
  /** The replica starting it, until its worker's pid is recorded: while that replica lives, it alone removes what it made. */
  starter?: Proc;
}

/** What every replica on this machine shares: the bridge, the port every replica listens on (each at its own address), the cgroup root. */
export interface NetRecord {
  run: string;
  bridge: string;
  subnet: string;
  port: number;
  cgroups: string[];
}

export type Garbage = { kind: 'host'; key: string; host: HostRecord } | { kind: 'net'; key: string; net: NetRecord };

export type Joined = { role: 'wait'; busy: Proc } | { role: 'maker'; garbage: Garbage[] } | { role: 'joiner'; slot: number; net: NetRecord };

/** Placement replicas that may share one machine's local hosts: each listens at its own address of the bridge. */
export const MAX_REPLICAS = 3;

/** Addresses .2 to .251 of the bridge's /24 (.1, .254 and .253 are the replicas'). */
export const MAX_HOSTS = 250;

/** The lowest host slot (1..max) not in use, or undefined when all are. */
export function freeHostSlot(used: Iterable<number>, max = MAX_HOSTS): number | undefined {
  const taken = new Set(used);
  for (let n = 1; n <= max; n++) if (!taken.has(n)) return n;
  return undefined;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS net (one INTEGER PRIMARY KEY CHECK (one = 1), state TEXT NOT NULL, busy TEXT, record TEXT);
  CREATE TABLE IF NOT EXISTS replicas (slot INTEGER PRIMARY KEY, proc TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS fence (one INTEGER PRIMARY KEY CHECK (one = 1), generation INTEGER NOT NULL, proc TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS hosts (id TEXT PRIMARY KEY, record TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS garbage (key TEXT PRIMARY KEY, item TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;

const alive = (p: Proc | undefined) => p !== undefined && processRunning(p.pid, p.startTime);

/**
 * `local-hosts`' record of what it made on this machine, shared by every placement replica on it
 * (`<state-dir>/hosts.db`, SQLite: each change one transaction under its write lock, which the
 * kernel releases if the writer dies). Replicas register (pid and start time) and are forgotten
 * once dead. Changes to hosts are fenced: `lead` bumps the generation and names the leader's
 * provider; a change under an older generation (a deposed leader's) is refused with `Fenced`.
 * What is to be removed moves to `garbage` first and leaves it only once removed, so a crash
 * mid-removal leaves it to the next replica.
 */
export class HostsState {
  private readonly db: Database.Database;

  constructor(stateDir: string) {
    this.db = new Database(join(stateDir, 'hosts.db'), { timeout: 10_000 });
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  /**
   * Registers replica `me`. The first replica (or the first after all are gone) makes the net:
   * whatever an earlier run recorded becomes garbage. While another live process makes or
   * removes the net, wait.
   */
  join(me: Proc): Joined {
    return this.tx(() => {
      const live = this.pruneReplicas();
      const net = this.netRow();
      if (net && net.busy && alive(net.busy) && net.busy.token !== me.token) return { role: 'wait', busy: net.busy };
      if (!net || net.state !== 'ready' || live.length === 0) {
        for (const h of this.hosts()) this.trash({ kind: 'host', key: `host:${h.id}`, host: h });
        this.db.prepare('DELETE FROM hosts').run();
        if (net?.record) this.trash({ kind: 'net', key: `net:${net.record.run}`, net: net.record });
        this.db.prepare('DELETE FROM replicas').run();
        this.db.prepare('DELETE FROM fence').run();
        this.db.prepare('INSERT OR REPLACE INTO net (one, state, busy, record) VALUES (1, ?, ?, NULL)').run('making', JSON.stringify(me));
        this.db.prepare('INSERT INTO replicas (slot, proc) VALUES (0, ?)').run(JSON.stringify(me));
        return { role: 'maker', garbage: this.garbage() };
      }
      const used = new Set(live.map((r) => r.slot));
      const slot = Array.from({ length: MAX_REPLICAS }, (_, i) => i).find((i) => !used.has(i));
      if (slot === undefined) throw new StratusError('InvalidConfig', `local-hosts: at most ${MAX_REPLICAS} placement replicas share one machine's hosts`);
      this.db.prepare('INSERT INTO replicas (slot, proc) VALUES (?, ?)').run(slot, JSON.stringify(me));
      return { role: 'joiner', slot, net: net.record as NetRecord };
    });
  }

  /** The net the maker is making, recorded before (and as) it is made. */
  making(net: NetRecord): void {
    this.tx(() => void this.db.prepare('UPDATE net SET record = ?').run(JSON.stringify(net)));
  }

  /** The maker's net is ready: replicas may join. */
  made(net: NetRecord): void {
    this.tx(() => void this.db.prepare("UPDATE net SET state = 'ready', busy = NULL, record = ?").run(JSON.stringify(net)));
  }

  /**
   * Replica `me` leaves. If no other live replica is left, everything recorded becomes garbage
   * (returned for `me` to remove) and the net is marked busy until then.
   */
  leave(me: Proc): Garbage[] | undefined {
    return this.tx(() => {
      this.db.prepare('DELETE FROM replicas WHERE proc = ?').run(JSON.stringify(me));
      if (this.pruneReplicas().length > 0) return undefined;
      const net = this.netRow();
      for (const h of this.hosts()) this.trash({ kind: 'host', key: `host:${h.id}`, host: h });
      this.db.prepare('DELETE FROM hosts').run();
      if (net?.record) this.trash({ kind: 'net', key: `net:${net.record.run}`, net: net.record });
      this.db.prepare('DELETE FROM fence').run();
      this.db.prepare("INSERT OR REPLACE INTO net (one, state, busy, record) VALUES (1, 'removing', ?, NULL)").run(JSON.stringify(me));
      return this.garbage();
    });
  }

  /** Removing the net failed (after `leave` returned garbage): it is no longer busy, so the next replica to open removes what is left. */
  release(me: Proc): void {
    this.tx(() => void this.db.prepare("UPDATE net SET busy = NULL WHERE state = 'removing' AND busy = ?").run(JSON.stringify(me)));
  }

  /** The net is removed (after `leave` returned garbage): the next replica makes a new one. */
  left(me: Proc): void {
    this.tx(() => void this.db.prepare("DELETE FROM net WHERE state = 'removing' AND busy = ?").run(JSON.stringify(me)));
  }

  /** One item of garbage is removed. */
  removed(key: string): void {
    this.tx(() => void this.db.prepare('DELETE FROM garbage WHERE key = ?').run(key));
  }

  /** Takes the fence for `me` (its provider now acts on the hosts): the generation its changes must carry. */
  lead(me: Proc): number {
    return this.tx(() => {
      const row = this.db.prepare('SELECT generation FROM fence').get() as { generation: number } | undefined;
      const generation = (row?.generation ?? 0) + 1;
      this.db.prepare('INSERT OR REPLACE INTO fence (one, generation, proc) VALUES (1, ?, ?)').run(generation, JSON.stringify(me));
      return generation;
    });
  }

  /** Whether `generation` holds the fence now. */
  holds(generation: number): boolean {
    const row = this.db.prepare('SELECT generation FROM fence').get() as { generation: number } | undefined;
    return row?.generation === generation;
  }

  /** Runs `change` in one transaction if `generation` still holds the fence; `Fenced` otherwise. */
  fenced<T>(generation: number, change: () => T): T {
    return this.tx(() => {
      const row = this.db.prepare('SELECT generation FROM fence').get() as { generation: number } | undefined;
      if (row?.generation !== generation) {
        throw new StratusError('Fenced', `local-hosts: another placement replica acts on the hosts now (generation ${row?.generation ?? 'none'}, not ${generation})`);
      }
      return change();
    });
  }

  /** A new host id's sequence number (never reused while the net lives). */
  nextSeq(generation: number): number {
    return this.fenced(generation, () => {
      const row = this.db.prepare("INSERT INTO counters (name, value) VALUES ('host', 1) ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value").get() as { value: number };
      return row.value;
    });
  }

  /** Records a new host (in the lowest free address slot) before anything of it is made. */
  addHost(generation: number, make: (slot: number) => HostRecord): HostRecord {
    return this.fenced(generation, () => {
      const slot = freeHostSlot(this.hosts().map((h) => h.slot));
      if (slot === undefined) throw new StratusError('InvalidParameterValue', `local-hosts: at most ${MAX_HOSTS} workers at a time`);
      const host = make(slot);
      this.db.prepare('INSERT INTO hosts (id, record) VALUES (?, ?)').run(host.id, JSON.stringify(host));
      return host;
    });
  }

  putHost(generation: number, host: HostRecord): void {
    this.fenced(generation, () => void this.db.prepare('INSERT OR REPLACE INTO hosts (id, record) VALUES (?, ?)').run(host.id, JSON.stringify(host)));
  }

  deleteHost(generation: number, id: string): void {
    this.fenced(generation, () => void this.db.prepare('DELETE FROM hosts WHERE id = ?').run(id));
  }

  /**
   * Forgets host `id` that replica `me` failed to start, and removed (fenced or not: while its
   * worker's pid is not recorded and its starter lives, no other replica removes it); if its
   * removal failed, forgets only its starter.
   */
  dropStart(id: string, me: Proc, removed = true): void {
    this.tx(() => {
      const h = this.host(id);
      if (!h || h.pid || h.starter?.token !== me.token) return;
      if (removed) this.db.prepare('DELETE FROM hosts WHERE id = ?').run(id);
      // Not removed: left to the leader's supervision, which removes a host whose starter is gone.
      else this.db.prepare('UPDATE hosts SET record = ? WHERE id = ?').run(JSON.stringify({ ...h, starter: undefined }), id);
    });
  }

  /** Whether host `h` is still being started: no pid recorded, and its starter is a live replica (registered, same process). */
  starting(h: HostRecord): boolean {
    const s = h.starter;
    if (h.pid || !s) return false;
    return this.replicas().some((r) => r.proc.token === s.token && r.proc.pid === s.pid && r.proc.startTime === s.startTime);
  }

  hosts(): HostRecord[] {
    return (this.db.prepare('SELECT record FROM hosts ORDER BY id').all() as { record: string }[]).map((r) => JSON.parse(r.record) as HostRecord);
  }

  host(id: string): HostRecord | undefined {
    const row = this.db.prepare('SELECT record FROM hosts WHERE id = ?').get(id) as { record: string } | undefined;
    return row ? (JSON.parse(row.record) as HostRecord) : undefined;
  }

  /** The net as recorded (undefined before it is made). */
  net(): NetRecord | undefined {
    return this.netRow()?.record;
  }

  /** Live replicas by slot. */
  replicas(): { slot: number; proc: Proc }[] {
    return this.tx(() => this.pruneReplicas());
  }

  garbage(): Garbage[] {
    return (this.db.prepare('SELECT item FROM garbage ORDER BY key').all() as { item: string }[]).map((r) => JSON.parse(r.item) as Garbage);
  }

  private trash(item: Garbage): void {
    this.db.prepare('INSERT OR REPLACE INTO garbage (key, item) VALUES (?, ?)').run(item.key, JSON.stringify(item));
  }

  private netRow(): { state: string; busy?: Proc; record?: NetRecord } | undefined {
    const row = this.db.prepare('SELECT state, busy, record FROM net').get() as { state: string; busy: string | null; record: string | null } | undefined;
    if (!row) return undefined;
    return { state: row.state, ...(row.busy ? { busy: JSON.parse(row.busy) as Proc } : {}), ...(row.record ? { record: JSON.parse(row.record) as NetRecord } : {}) };
  }

  /** Forgets dead replicas; the live ones. */
  private pruneReplicas(): { slot: number; proc: Proc }[] {
    const rows = (this.db.prepare('SELECT slot, proc FROM replicas').all() as { slot: number; proc: string }[]).map((r) => ({ slot: r.slot, proc: JSON.parse(r.proc) as Proc }));
    const live = rows.filter((r) => alive(r.proc));
    for (const r of rows) if (!live.includes(r)) this.db.prepare('DELETE FROM replicas WHERE slot = ?').run(r.slot);
    return live;
  }

  /** One write transaction (BEGIN IMMEDIATE: the write lock is taken before anything is read). */
  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}
