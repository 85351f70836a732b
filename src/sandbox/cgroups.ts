import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Resource limits per sandbox with Linux cgroups. v1 (separate memory, cpu and pids
 * hierarchies) and v2 (one unified hierarchy) are detected; Stratus creates its own subtree
 * below the cgroup it runs in and never touches cgroups it did not create.
 */
export interface CgroupLimits {
  memoryBytes: number;
  /** Relative CPU weight (Lambda: CPU in proportion to memory). */
  cpuWeight: number;
  /** Hard CPU cap in cores (e.g. 1.5), or undefined for none. */
  cpuCores?: number;
  pidsMax: number;
  /** Relative disk I/O weight (1-100; 100 is the kernel's default), where the host can weigh I/O. */
  ioWeight: number;
}

export interface SandboxCgroup {
  /** cgroup.procs files a process writes its pid to, to join this cgroup. */
  readonly procsFiles: string[];
  peakMemoryBytes(): number;
  /** How many times the kernel's OOM killer has killed a process in this cgroup. */
  oomKills(): number;
  /** Stops every process of the cgroup (no CPU, no output) until thaw(); settles once they are stopped. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Thaws (a frozen process cannot die), then removes the cgroup once its processes are gone. */
  destroy(): Promise<void>;
}

export interface CgroupManager {
  readonly version: 'v1' | 'v2' | 'none';
  create(id: string, limits: CgroupLimits): Promise<SandboxCgroup>;
  /** Removes the subtree of this instance and empty ones left by dead instances. */
  cleanup(): Promise<void>;
}

const V1_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;
/**
 * Hierarchies a sandbox also gets its own cgroup in where they exist: its cgroup namespace is
 * then rooted at a cgroup of its own in each (the freezer also stops it between invokes).
 */
const V1_OPTIONAL = ['freezer', 'blkio', 'cpuset'] as const;
const CPU_PERIOD_US = 100_000;
/** How long freezing may take before it is reported as failed. */
const FREEZE_TIMEOUT_MS = 5000;

/** Picks the cgroup flavour of this host. `instance` names this Stratus's subtree. */
export function detectCgroups(instance: string, root = '/sys/fs/cgroup'): CgroupManager {
  const own = ownCgroupPaths();
  const v2Controllers = readOr(join(root, 'cgroup.controllers'), '');
  if (['memory', 'cpu', 'pids'].every((c) => v2Controllers.split(/\s+/).includes(c))) {
    return new V2Cgroups(join(root, own.get('') ?? '/'), instance);
  }
  if (V1_CONTROLLERS.every((c) => existsSync(join(root, c, 'cgroup.procs')))) {
    const controllers = [...V1_CONTROLLERS, ...V1_OPTIONAL.filter((c) => existsSync(join(root, c, 'cgroup.procs')))];
    return new V1Cgroups(new Map(controllers.map((c) => [c, join(root, c, own.get(c) ?? '/')])), instance);
  }
  return new NoCgroups();
}

/** controller (or '' for v2) -> path of the cgroup this process is in. */
function ownCgroupPaths(): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of readOr('/proc/self/cgroup', '').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers === undefined || path === undefined) continue;
    for (const c of controllers.split(',')) paths.set(c, path);
  }
  return paths;
}

class V1Cgroups implements CgroupManager {
  readonly version = 'v1';
  /** The instance's cpuset cgroup, made once: the CPUs and memory nodes each sandbox's copies. */
  private cpusetReady: Promise<CpusetParent> | undefined;

  constructor(private readonly bases: Map<string, string>, private readonly instance: string) {}

  /** One cgroup per hierarchy, made and limited in parallel (a cold start waits for all of them). */
  async create(id: string, limits: CgroupLimits): Promise<SandboxCgroup> {
    const dirs = new Map([...this.bases].map(([controller, base]) => [controller, join(base, this.instance, id)]));
    const at = (c: string, file: string) => join(dirs.get(c) ?? '', file);
    await Promise.all([...this.bases].map(async ([controller, base]) => {
      // A new cpuset cgroup has no CPUs or memory nodes: it gets the instance's.
      if (controller === 'cpuset') await this.makeCpuset(base, id);
      else await mkdir(join(base, this.instance, id), { recursive: true });
    }));
    const writes: Promise<void>[] = [
      writeFile(at('memory', 'memory.limit_in_bytes'), String(limits.memoryBytes)).then(async () => {
        // memsw (memory + swap) may only be set once the memory limit is, and not below it.
        if (existsSync(at('memory', 'memory.memsw.limit_in_bytes'))) await writeFile(at('memory', 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes));
      }),
      writeFile(at('cpu', 'cpu.shares'), String(Math.max(2, Math.round(limits.cpuWeight)))),
      writeFile(at('pids', 'pids.max'), String(limits.pidsMax)),
    ];
    if (limits.cpuCores !== undefined) writes.push(writeFile(at('cpu', 'cpu.cfs_quota_us'), String(Math.round(limits.cpuCores * CPU_PERIOD_US))));
    // Proportional I/O needs the CFQ or BFQ scheduler; without either the blkio cgroup only accounts.
    for (const file of ['blkio.weight', 'blkio.bfq.weight']) {
      if (dirs.has('blkio') && existsSync(at('blkio', file))) writes.push(writeFile(at('blkio', file), String(Math.max(10, limits.ioWeight))));
    }
    await Promise.all(writes);
    const freezer = dirs.get('freezer');
    const peak = new KernelNumber(at('memory', 'memory.max_usage_in_bytes'));
    return {
      procsFiles: [...dirs.values()].map((d) => join(d, 'cgroup.procs')),
      peakMemoryBytes: () => peak.read(),
      oomKills: () => counter(readOr(at('memory', 'memory.oom_control'), ''), 'oom_kill'),
      freeze: () => (freezer ? setFreezerV1(freezer, 'FROZEN') : Promise.resolve()),
      thaw: () => (freezer ? setFreezerV1(freezer, 'THAWED') : Promise.resolve()),
      destroy: async () => {
        peak.close();
        if (freezer) await setFreezerV1(freezer, 'THAWED').catch(() => {});
        await removeAll([...dirs.values()]);
      },
    };
  }

  /** The sandbox's cpuset cgroup with the instance's CPUs and memory nodes (read afresh if the host's changed). */
  private async makeCpuset(base: string, id: string): Promise<void> {
    const parent = await (this.cpusetReady ??= inheritCpuset(base, [this.instance]));
    const dir = join(parent.dir, id);
    await mkdir(dir, { recursive: true });
    try {
      await Promise.all([writeFile(join(dir, 'cpuset.cpus'), parent.cpus), writeFile(join(dir, 'cpuset.mems'), parent.mems)]);
    } catch {
      this.cpusetReady = undefined;
      await inheritCpuset(parent.dir, [id]);
    }
  }

  async cleanup(): Promise<void> {
    // Thawed first: processes frozen by a killed instance cannot die until they are.
    const freezer = this.bases.get('freezer');
    if (freezer) await thawInstances(freezer, this.instance);
    for (const base of this.bases.values()) await removeInstances(base, this.instance);
  }
}

class V2Cgroups implements CgroupManager {
  readonly version = 'v2';
  private ready: Promise<string> | undefined;

  constructor(private readonly base: string, private readonly instance: string) {}

  async create(id: string, limits: CgroupLimits): Promise<SandboxCgroup> {
    const parent = await (this.ready ??= this.prepare());
    const dir = join(parent, id);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'memory.max'), String(limits.memoryBytes));
    await writeFile(join(dir, 'memory.swap.max'), '0').catch(() => {});
    await writeFile(join(dir, 'cpu.weight'), String(Math.min(10_000, Math.max(1, Math.round(limits.cpuWeight / 10)))));
    if (limits.cpuCores !== undefined) await writeFile(join(dir, 'cpu.max'), `${Math.round(limits.cpuCores * CPU_PERIOD_US)} ${CPU_PERIOD_US}`);
    await writeFile(join(dir, 'pids.max'), String(limits.pidsMax));
    if (existsSync(join(dir, 'io.weight'))) await writeFile(join(dir, 'io.weight'), `default ${Math.max(1, limits.ioWeight)}`);
    const peak = new KernelNumber(join(dir, 'memory.peak'));
    return {
      procsFiles: [join(dir, 'cgroup.procs')],
      peakMemoryBytes: () => peak.read(),
      oomKills: () => counter(readOr(join(dir, 'memory.events'), ''), 'oom_kill'),
      freeze: () => setFreezeV2(dir, true),
      thaw: () => setFreezeV2(dir, false),
      destroy: async () => {
        peak.close();
        await setFreezeV2(dir, false).catch(() => {});
        await removeAll([dir]);
      },
    };
  }

  /** Our subtree with memory, cpu and pids delegated to its children. */
  private async prepare(): Promise<string> {
    const parent = join(this.base, this.instance);
    await mkdir(parent, { recursive: true });
    await writeFile(join(parent, 'cgroup.subtree_control'), '+memory +cpu +pids');
    await writeFile(join(parent, 'cgroup.subtree_control'), '+io').catch(() => {});
    return parent;
  }

  async cleanup(): Promise<void> {
    await removeInstances(this.base, this.instance);
  }
}

class NoCgroups implements CgroupManager {
  readonly version = 'none';

  async create(): Promise<SandboxCgroup> {
    const none = async () => {};
    return { procsFiles: [], peakMemoryBytes: () => 0, oomKills: () => 0, freeze: none, thaw: none, destroy: none };
  }

  async cleanup(): Promise<void> {}
}

interface CpusetParent {
  dir: string;
  cpus: string;
  mems: string;
}

/** Creates `levels` below `base` in the cpuset hierarchy, each with its parent's CPUs and memory nodes; the last one's. */
async function inheritCpuset(base: string, levels: string[]): Promise<CpusetParent> {
  let parent = base;
  const values = { cpus: '', mems: '' };
  for (const level of levels) {
    const dir = join(parent, level);
    await mkdir(dir, { recursive: true });
    for (const key of ['cpus', 'mems'] as const) {
      const file = `cpuset.${key}`;
      values[key] = (await readFile(join(dir, file), 'utf8')).trim();
      if (values[key] === '') {
        values[key] = (await readFile(join(parent, file), 'utf8')).trim();
        await writeFile(join(dir, file), values[key]);
      }
    }
    parent = dir;
  }
  return { dir: parent, ...values };
}

/** v1 freezer: the state is written, then read until the kernel has reached it. */
async function setFreezerV1(dir: string, state: 'FROZEN' | 'THAWED'): Promise<void> {
  await writeFile(join(dir, 'freezer.state'), state);
  await pollUntil(() => readOr(join(dir, 'freezer.state')) === state, FREEZE_TIMEOUT_MS, `freezer.state of ${dir} did not become ${state}`);
}

/** v2: cgroup.freeze, then `frozen` in cgroup.events. */
async function setFreezeV2(dir: string, frozen: boolean): Promise<void> {
  await writeFile(join(dir, 'cgroup.freeze'), frozen ? '1' : '0');
  await pollUntil(() => counter(readOr(join(dir, 'cgroup.events')), 'frozen') === (frozen ? 1 : 0), FREEZE_TIMEOUT_MS, `${dir} did not ${frozen ? 'freeze' : 'thaw'}`);
}

/**
 * Polls kernel state that settles in microseconds to milliseconds (a freeze, a restored clone's
 * seccomp filters), yielding between reads; rejects with `failure` after `timeoutMs`.
 */
export async function pollUntil(done: () => boolean, timeoutMs: number, failure: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (let polls = 0; !done(); polls++) {
    if (performance.now() > deadline) throw new Error(failure);
    await new Promise((r) => (polls < 20 ? setImmediate(r) : setTimeout(r, 1)));
  }
}

/** Thaws the freezer cgroups of this instance and of dead instances (before their processes are killed). */
async function thawInstances(base: string, instance: string): Promise<void> {
  for (const dir of await instanceDirs(base, instance)) {
    const children = (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((c) => c.isDirectory());
    for (const child of children) await writeFile(join(dir, child.name, 'freezer.state'), 'THAWED').catch(() => {});
  }
}

function counter(text: string, key: string): number {
  const match = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return match?.[1] ? Number(match[1]) : 0;
}

/**
 * A number in a kernel file read on every invoke (a cgroup's peak memory, for the REPORT line):
 * the file stays open and each read is one pread from its start, which the kernel answers afresh;
 * 0 once it cannot be read.
 */
class KernelNumber {
  private fd: number | undefined;
  private readonly buf = Buffer.alloc(64);

  constructor(private readonly path: string) {}

  read(): number {
    try {
      this.fd ??= openSync(this.path, 'r');
      return Number(this.buf.toString('latin1', 0, readSync(this.fd, this.buf, 0, this.buf.length, 0)).trim());
    } catch {
      this.close();
      return 0;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** A small kernel file (cgroup, procfs) as text, or `fallback` if it cannot be read. */
export function readOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return fallback;
  }
}

/** rmdir of a cgroup fails with EBUSY until its last process is reaped: retry briefly. */
async function removeAll(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    for (let attempt = 0; ; attempt++) {
      try {
        await rmdir(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}

function killMembers(dirs: string[]): void {
  for (const dir of dirs) {
    for (const pid of readOr(join(dir, 'cgroup.procs'), '').split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  }
}

/** This instance's subtree and those of instances whose process is gone. */
async function instanceDirs(base: string, instance: string): Promise<string[]> {
  const prefix = instance.replace(/-\d+$/, '-');
  const entries = await readdir(base).catch(() => [] as string[]);
  return entries
    .filter((name) => {
      if (!name.startsWith(prefix)) return false;
      const pid = Number(name.slice(prefix.length));
      return name === instance || (Number.isInteger(pid) && !existsSync(`/proc/${pid}`));
    })
    .map((name) => join(base, name));
}

/** Removes this instance's subtree, and subtrees of instances whose process is gone. */
async function removeInstances(base: string, instance: string): Promise<void> {
  for (const dir of await instanceDirs(base, instance)) {
    const children = (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((c) => c.isDirectory()).map((c) => join(dir, c.name));
    // Processes still in these cgroups are sandboxes of a Stratus that was killed mid-start: ours, and orphaned.
    killMembers([dir, ...children]);
    await removeAll(children).catch(() => {});
    await removeAll([dir]).catch(() => {});
  }
}
