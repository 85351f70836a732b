/**
 * What a killed server may leave behind, each found by what the harness can attribute to that
 * server (its pid, the processes below it a moment before the kill, its cgroup subtree), never
 * by process names:
 * - processes (sandboxes, stratus-init, FUSE servers) still alive after the restart;
 * - its cgroups (`stratus-<pid>` beside the server's own cgroup, in each hierarchy);
 * - its run directory (a tmpfs in the system temp dir, named by its pid);
 * - temporary files (`.tmp-*`) of interrupted writes in the code store;
 * - mount points under the data directory mounted more than once (a restart mounting over a
 *   mount the killed server left);
 * - code blobs no stored document refers to once the collector's grace has passed (`orphanBlobs`).
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { descendantsOf } from '../stratus.js';

export interface ProcessSnapshot {
  pid: number;
  /** /proc/<pid>/stat's start time: a pid reused later is another process. */
  startTime: string;
  cmdline: string;
}

async function statStart(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** The server and every process below it, to be taken just before the kill. */
export async function snapshotProcesses(serverPid: number): Promise<ProcessSnapshot[]> {
  const out: ProcessSnapshot[] = [];
  for (const pid of [serverPid, ...(await descendantsOf(serverPid))]) {
    const startTime = await statStart(pid);
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').trim();
    if (startTime !== undefined) out.push({ pid, startTime, cmdline });
  }
  return out;
}

/** Every process in the cgroups of a Stratus of pid `serverPid` (to attribute sandboxes started after `snapshotProcesses`). */
export async function snapshotCgroups(serverPid: number): Promise<ProcessSnapshot[]> {
  const pids = new Set<number>();
  for (const dir of await cgroupDirsOf(serverPid)) {
    for (const file of (await walk(dir)).filter((f) => f.endsWith('/cgroup.procs'))) {
      for (const pid of (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean)) pids.add(Number(pid));
    }
  }
  const out: ProcessSnapshot[] = [];
  for (const pid of pids) {
    const startTime = await statStart(pid);
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').trim();
    if (startTime !== undefined) out.push({ pid, startTime, cmdline });
  }
  return out;
}

/** Processes of the snapshot that are still alive (the same process, not a reused pid). */
export async function survivors(snapshot: ProcessSnapshot[]): Promise<ProcessSnapshot[]> {
  const alive: ProcessSnapshot[] = [];
  for (const p of snapshot) if ((await statStart(p.pid)) === p.startTime) alive.push(p);
  return alive;
}

/** The cgroup directories a Stratus of pid `serverPid` creates, in every hierarchy the test process is in. */
export async function cgroupDirsOf(serverPid: number, root = '/sys/fs/cgroup'): Promise<string[]> {
  const dirs: string[] = [];
  for (const line of (await readFile('/proc/self/cgroup', 'utf8')).split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers === undefined || path === undefined) continue;
    const bases = controllers === '' ? [root, join(root, 'unified')] : controllers.split(',').map((c) => join(root, c.replace(/^name=/, '')));
    for (const base of bases) dirs.push(join(base, path, `stratus-${serverPid}`));
  }
  return [...new Set(dirs)].filter((d) => existsSync(d));
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(path)));
    else out.push(path);
  }
  return out;
}

/** Run directories (`<tmp>/stratus-run-<pid>-*`, a tmpfs each) and chunk directories a worker of pid `pid` made, and mounts on them. */
export async function runDirsOf(pid: number): Promise<string[]> {
  const dirs = (await readdir(tmpdir()).catch(() => [] as string[])).filter((n) => n.startsWith(`stratus-run-${pid}-`) || n.startsWith(`stratus-chunks-${pid}-`)).map((n) => join(tmpdir(), n));
  const mounted = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '')
    .filter((t) => dirs.includes(t) || t.startsWith(join(tmpdir(), `stratus-run-${pid}-`))).map((t) => `${t} (mounted)`);
  return [...dirs, ...mounted];
}

/** `.tmp-*` files anywhere in the code store. */
export async function tmpFiles(dataDir: string): Promise<string[]> {
  return (await walk(join(dataDir, 'code'))).filter((p) => p.split('/').at(-1)?.startsWith('.tmp'));
}

/** Mount points under `dataDir` that have more than one mount stacked on them. */
export async function stackedMounts(dataDir: string): Promise<string[]> {
  const counts = new Map<string, number>();
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const target = line.split(' ')[4];
    if (target?.startsWith(`${dataDir}/`)) counts.set(target, (counts.get(target) ?? 0) + 1);
  }
  return [...counts].filter(([, n]) => n > 1).map(([t, n]) => `${t} (${n} mounts)`);
}

/** Mount points under `dataDir`. */
export async function mountsUnder(dataDir: string): Promise<number> {
  return (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.split(' ')[4]?.startsWith(`${dataDir}/`)).length;
}

/** Code blobs (`code/sha256/<hex>`) that no stored document refers to (the code collector's to remove). */
export async function orphanBlobs(dataDir: string, referenced: Set<string>): Promise<string[]> {
  const names = await readdir(join(dataDir, 'code', 'sha256')).catch(() => [] as string[]);
  return names.filter((n) => /^[0-9a-f]{64}$/.test(n) && !referenced.has(n));
}
