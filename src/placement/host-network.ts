import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StratusError } from '../shared/errors.js';

/**
 * What `local-hosts` makes on this machine, with iproute2 and cgroupfs: one bridge with a private
 * /24 of 10.213.0.0/16, and per worker a network namespace joined to it by a veth pair, and a
 * cgroup subtree. Every name and path comes from the provider's recorded state; nothing here
 * looks resources up by pattern.
 */
const run = promisify(execFile);

async function ip(...args: string[]): Promise<void> {
  try {
    await run('ip', args, { timeout: 10_000 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new StratusError('InvalidConfig', `ip ${args.join(' ')} failed: ${stderr.trim() || String(err)}`);
  }
}

/** Runs `ip`, ignoring failure: for removing what may already be gone. */
async function ipQuiet(...args: string[]): Promise<void> {
  await ip(...args).catch(() => undefined);
}

/** Whether this process can make network namespaces (root with iproute2). */
export async function canMakeHosts(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'local-hosts needs root (ip netns, bridges, cgroups)' };
  try {
    await run('ip', ['netns', 'list'], { timeout: 5000 });
  } catch (err) {
    return { ok: false, reason: `ip netns is not available: ${String(err)}` };
  }
  return { ok: true };
}

/** A /24 of 10.213.0.0/16 that no interface of this machine has an address in: "10.213.N". */
export async function freeSubnet(): Promise<string> {
  const { stdout } = await run('ip', ['-o', '-4', 'addr', 'show'], { timeout: 5000 });
  const used = new Set([...stdout.matchAll(/inet 10\.213\.(\d+)\./g)].map((m) => m[1]));
  for (let tries = 0; tries < 64; tries++) {
    const n = String(randomInt(1, 255));
    if (!used.has(n)) return `10.213.${n}`;
  }
  throw new StratusError('InvalidConfig', 'no free /24 in 10.213.0.0/16 for local-hosts');
}

/** A bridge with `addresses` (the first one `.1`) of the /24 `subnet`. */
export async function createBridge(name: string, subnet: string, addresses: string[] = [`${subnet}.1`]): Promise<string> {
  await ip('link', 'add', name, 'type', 'bridge');
  for (const a of addresses) await ip('addr', 'add', `${a}/24`, 'dev', name);
  await ip('link', 'set', name, 'up');
  return `${subnet}.1`;
}

/** A TCP port nothing listens on at any of `addresses` now (for every placement replica to listen on, each at its own address). */
export async function freePort(addresses: string[]): Promise<number> {
  for (let tries = 0; tries < 20; tries++) {
    const port = await listenOnce(addresses[0] ?? '127.0.0.1', 0);
    const ok = await Promise.all(addresses.slice(1).map((a) => listenOnce(a, port).then(() => true, () => false)));
    if (ok.every(Boolean)) return port;
  }
  throw new StratusError('InvalidConfig', `no port free on all of ${addresses.join(', ')}`);
}

function listenOnce(address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, address, () => {
      const taken = (server.address() as AddressInfo).port;
      server.close(() => resolve(taken));
    });
  });
}

export async function deleteBridge(name: string): Promise<void> {
  await ipQuiet('link', 'del', name);
}

export interface HostLink {
  netns: string;
  /** The host side of the veth pair, on the bridge. */
  veth: string;
  address: string;
}

/** A network namespace with loopback up and one interface on the bridge, its only route the /24. */
export async function createHost(link: HostLink, peer: string, bridge: string): Promise<void> {
  await ip('netns', 'add', link.netns);
  await ip('link', 'add', link.veth, 'type', 'veth', 'peer', 'name', peer);
  await ip('link', 'set', peer, 'netns', link.netns);
  await ip('link', 'set', link.veth, 'master', bridge);
  await ip('link', 'set', link.veth, 'up');
  await ip('-n', link.netns, 'link', 'set', 'lo', 'up');
  await ip('-n', link.netns, 'addr', 'add', `${link.address}/24`, 'dev', peer);
  await ip('-n', link.netns, 'link', 'set', peer, 'up');
}

export async function deleteHost(link: Pick<HostLink, 'netns' | 'veth'>): Promise<void> {
  await ipQuiet('link', 'del', link.veth);
  await ipQuiet('netns', 'del', link.netns);
}

const V1_CONTROLLERS = ['memory', 'pids', 'cpu'];

/**
 * The directories, one per hierarchy (v2: one), of a new cgroup `name` below the one this
 * process is in (never elsewhere).
 */
export function cgroupDirs(name: string, root = '/sys/fs/cgroup'): string[] {
  const own = new Map<string, string>();
  for (const line of readOr('/proc/self/cgroup').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers === undefined || path === undefined) continue;
    for (const c of controllers.split(',')) own.set(c, path);
  }
  if (existsSync(join(root, 'cgroup.controllers'))) return [join(root, own.get('') ?? '/', name)];
  return V1_CONTROLLERS.filter((c) => existsSync(join(root, c, 'cgroup.procs'))).map((c) => join(root, c, own.get(c) ?? '/', name));
}

export async function makeCgroups(dirs: string[]): Promise<void> {
  for (const dir of dirs) await mkdir(dir, { recursive: true });
}

/** Pids in these cgroups (and their child cgroups, which a worker's sandboxes make). */
export async function cgroupPids(dirs: string[]): Promise<number[]> {
  const pids = new Set<number>();
  const walk = async (dir: string): Promise<void> => {
    for (const line of (await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n')) if (line) pids.add(Number(line));
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) await walk(join(dir, e.name));
  };
  for (const dir of dirs) await walk(dir);
  return [...pids];
}

/** Removes the cgroups (deepest first), once their processes are gone. */
export async function removeCgroups(dirs: string[]): Promise<void> {
  const remove = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) await remove(join(dir, e.name));
    for (let i = 0; i < 50; i++) {
      const err = await rmdir(dir).then(() => undefined, (e: NodeJS.ErrnoException) => e);
      if (!err || err.code === 'ENOENT') return;
      if (err.code !== 'EBUSY') throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  for (const dir of dirs) await remove(dir);
}

/** The fields of /proc/PID/stat after the command name (the state first): none if it is gone. */
function statFields(pid: number): string[] {
  const stat = readOr(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The kernel's start time of `pid` (field 22 of /proc/PID/stat), to tell it from a later process with the same pid. */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)[19];
}

/**
 * Whether `pid` is still the process recorded with `startTime` and runs (a zombie, dead but not
 * yet reaped by whoever adopted it, does not).
 */
export function processRunning(pid: number | undefined, startTime: string | undefined): boolean {
  if (!pid || !startTime) return false;
  const fields = statFields(pid);
  return fields[19] === startTime && fields[0] !== 'Z' && fields[0] !== 'X';
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
