import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { randomBytes } from 'node:crypto';
import {
  cgroupDirs, cgroupPids, createBridge, deleteBridge, deleteHost, freePort, freeSubnet, makeCgroups, processStartTime, removeCgroups,
} from './host-network.js';
import type { Garbage, HostRecord, HostsState, NetRecord } from './local-hosts-state.js';

/** What `local-hosts` makes and removes outside a host's start and stop: the net, an earlier run's garbage, a host's remains. */
export interface RemoveOptions {
  revokeCredential(workerId: string): Promise<void>;
  log: Logger;
}

/** The last octet of each replica slot's address on the bridge. */
export const REPLICA_OCTETS = [1, 254, 253] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Why the record of host `r` is not one this net made (undefined: it is): its directory must be
 * `<stateDir>/<id>`, each cgroup `<net cgroup root>/<id>`, its namespace and veth named
 * `stratus-<run>-…` and `sv-<run>-…` after its id. `hosts.db` is a file: a record that names
 * anything else is never acted on.
 */
export function hostRecordProblem(r: HostRecord, stateDir: string, net: Pick<NetRecord, 'run' | 'cgroups'> | undefined): string | undefined {
  const tag = /^lh-([0-9a-f]+-[0-9a-z]+)$/.exec(r.id)?.[1];
  if (!tag) return `id ${JSON.stringify(r.id)} is not one local-hosts makes`;
  if (!net || !tag.startsWith(`${net.run}-`)) return `id ${r.id} is not of this net's run (${net?.run ?? 'none'})`;
  if (r.netns !== `stratus-${tag}` || r.veth !== `sv-${tag}`) return `netns ${r.netns} / veth ${r.veth} are not named after ${r.id}`;
  if (resolve(r.dir) !== resolve(stateDir, r.id)) return `directory ${r.dir} is not ${r.id} under ${stateDir}`;
  for (const c of r.cgroups) if (!net.cgroups.some((root) => resolve(c) === resolve(root, r.id))) return `cgroup ${c} is not ${r.id} under the net's cgroup root`;
  return undefined;
}

/** Removes an earlier run's garbage (a host whose record names what this provider never makes is logged, not acted on, and dropped). */
export async function removeGarbage(db: HostsState, garbage: Garbage[], stateDir: string, opts: RemoveOptions): Promise<void> {
  for (const g of garbage) {
    if (g.kind === 'host') {
      const net = garbage.find((n): n is Extract<Garbage, { kind: 'net' }> => n.kind === 'net' && g.host.id.startsWith(`lh-${n.net.run}-`))?.net;
      const problem = hostRecordProblem(g.host, stateDir, net);
      if (problem) opts.log.warn({ worker: g.host.id, problem }, 'local-hosts: a recorded host names what local-hosts never makes: left alone');
      else await removeHost(g.host, opts);
    } else {
      await removeCgroups(g.net.cgroups);
      await deleteBridge(g.net.bridge);
    }
    db.removed(g.key);
  }
  const hosts = garbage.flatMap((g) => (g.kind === 'host' ? [g.host.id] : []));
  if (garbage.length > 0) opts.log.info({ hosts, bridges: garbage.flatMap((g) => (g.kind === 'net' ? [g.net.bridge] : [])) }, 'local-hosts: removed what was recorded');
}

/**
 * Kills what is left of a host (its recorded process if still the same one, then anything in its
 * cgroups) and removes it. `mayGoOn` is asked before each step (it throws to stop: a provider
 * deposed meanwhile stops tearing down).
 */
export async function removeHost(r: HostRecord, opts: RemoveOptions, mayGoOn: () => void = () => undefined): Promise<void> {
  mayGoOn();
  if (r.pid && r.startTime && processStartTime(r.pid) === r.startTime) killQuietly(r.pid);
  for (let i = 0; i < 50; i++) {
    const pids = await cgroupPids(r.cgroups);
    if (pids.length === 0) break;
    mayGoOn();
    for (const pid of pids) killQuietly(pid);
    await sleep(100);
  }
  mayGoOn();
  await removeCgroups(r.cgroups);
  mayGoOn();
  await deleteHost(r);
  mayGoOn();
  await rm(r.dir, { recursive: true, force: true });
  await opts.revokeCredential(r.id).catch((err: unknown) => opts.log.warn({ err, worker: r.id }, 'local-hosts: revoking a removed worker\'s credential failed'));
}

/** Refuses a host record that names what this net never makes (`hostRecordProblem`). */
export function checkHostRecord(r: HostRecord, stateDir: string, net: NetRecord): void {
  const problem = hostRecordProblem(r, stateDir, net);
  if (problem) throw new StratusError('InvalidConfig', `local-hosts: host ${r.id} is left alone: its record ${problem}`);
}

/** SIGKILL, ignoring a process already gone. */
function killQuietly(pid: number): void {
  try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
}

/** Removes an earlier run's garbage, then makes the bridge (an address per replica slot), the port and the cgroup root, recording each first. */
export async function makeNet(db: HostsState, garbage: Garbage[], opts: RemoveOptions & { stateDir: string }): Promise<NetRecord> {
  await removeGarbage(db, garbage, opts.stateDir, opts);
  const run = randomBytes(3).toString('hex');
  const subnet = await freeSubnet();
  const net: NetRecord = { run, bridge: `stb-${run}`, subnet, port: 0, cgroups: cgroupDirs(`stratus-hosts-${run}`) };
  db.making(net);
  await makeCgroups(net.cgroups);
  await createBridge(net.bridge, subnet, REPLICA_OCTETS.map((o) => `${subnet}.${o}`));
  net.port = await freePort(REPLICA_OCTETS.map((o) => `${subnet}.${o}`));
  db.made(net);
  return net;
}
