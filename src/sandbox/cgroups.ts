import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rmdir, writeFile } from 'node:fs/promises';
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
}

export interface SandboxCgroup {
  /** cgroup.procs files a process writes its pid to, to join this cgroup. */
  readonly procsFiles: string[];
  peakMemoryBytes(): number;
  /** How many times the kernel's OOM killer has killed a process in this cgroup. */
  oomKills(): number;
  destroy(): Promise<void>;
}

export interface CgroupManager {
  readonly version: 'v1' | 'v2' | 'none';
  create(id: string, limits: CgroupLimits): Promise<SandboxCgroup>;
  /** Removes the subtree of this instance and empty ones left by dead instances. */
  cleanup(): Promise<void>;
}

const V1_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;
const CPU_PERIOD_US = 100_000;

/** Picks the cgroup flavour of this host. `instance` names this Stratus's subtree. */
export function detectCgroups(instance: string, root = '/sys/fs/cgroup'): CgroupManager {
  const own = ownCgroupPaths();
  const v2Controllers = readOr(join(root, 'cgroup.controllers'), '');
  if (['memory', 'cpu', 'pids'].every((c) => v2Controllers.split(/\s+/).includes(c))) {
    return new V2Cgroups(join(root, own.get('') ?? '/'), instance);
  }
  if (V1_CONTROLLERS.every((c) => existsSync(join(root, c, 'cgroup.procs')))) {
    return new V1Cgroups(new Map(V1_CONTROLLERS.map((c) => [c, join(root, c, own.get(c) ?? '/')])), instance);
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

  constructor(private readonly bases: Map<string, string>, private readonly instance: string) {}

  async create(id: string, limits: CgroupLimits): Promise<SandboxCgroup> {
    const dirs = new Map<string, string>();
    for (const [controller, base] of this.bases) {
      const dir = join(base, this.instance, id);
      await mkdir(dir, { recursive: true });
      dirs.set(controller, dir);
    }
    const at = (c: string, file: string) => join(dirs.get(c) ?? '', file);
    await writeFile(at('memory', 'memory.limit_in_bytes'), String(limits.memoryBytes));
    if (existsSync(at('memory', 'memory.memsw.limit_in_bytes'))) await writeFile(at('memory', 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes));
    await writeFile(at('cpu', 'cpu.shares'), String(Math.max(2, Math.round(limits.cpuWeight))));
    if (limits.cpuCores !== undefined) await writeFile(at('cpu', 'cpu.cfs_quota_us'), String(Math.round(limits.cpuCores * CPU_PERIOD_US)));
    await writeFile(at('pids', 'pids.max'), String(limits.pidsMax));
    return {
      procsFiles: [...dirs.values()].map((d) => join(d, 'cgroup.procs')),
      peakMemoryBytes: () => Number(readOr(at('memory', 'memory.max_usage_in_bytes'), '0')),
      oomKills: () => counter(readOr(at('memory', 'memory.oom_control'), ''), 'oom_kill'),
      destroy: () => removeAll([...dirs.values()]),
    };
  }

  async cleanup(): Promise<void> {
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
    return {
      procsFiles: [join(dir, 'cgroup.procs')],
      peakMemoryBytes: () => Number(readOr(join(dir, 'memory.peak'), '0')),
      oomKills: () => counter(readOr(join(dir, 'memory.events'), ''), 'oom_kill'),
      destroy: () => removeAll([dir]),
    };
  }

  /** Our subtree with memory, cpu and pids delegated to its children. */
  private async prepare(): Promise<string> {
    const parent = join(this.base, this.instance);
    await mkdir(parent, { recursive: true });
    await writeFile(join(parent, 'cgroup.subtree_control'), '+memory +cpu +pids');
    return parent;
  }

  async cleanup(): Promise<void> {
    await removeInstances(this.base, this.instance);
  }
}

class NoCgroups implements CgroupManager {
  readonly version = 'none';

  async create(): Promise<SandboxCgroup> {
    return { procsFiles: [], peakMemoryBytes: () => 0, oomKills: () => 0, destroy: async () => {} };
  }

  async cleanup(): Promise<void> {}
}

function counter(text: string, key: string): number {
  const match = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return match?.[1] ? Number(match[1]) : 0;
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

/** Removes this instance's subtree, and subtrees of instances whose process is gone. */
async function removeInstances(base: string, instance: string): Promise<void> {
  const prefix = instance.replace(/-\d+$/, '-');
  const entries = await readdir(base).catch(() => [] as string[]);
  for (const name of entries) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (name !== instance && (!Number.isInteger(pid) || existsSync(`/proc/${pid}`))) continue;
    const dir = join(base, name);
    const children = (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((c) => c.isDirectory()).map((c) => join(dir, c.name));
    // Processes still in these cgroups are sandboxes of a Stratus that was killed mid-start: ours, and orphaned.
    killMembers([dir, ...children]);
    await removeAll(children).catch(() => {});
    await removeAll([dir]).catch(() => {});
  }
}

