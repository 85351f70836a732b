import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, readlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { StratusError } from '../shared/errors.js';
import { readOr, type CgroupLimits, type CgroupManager, type SandboxCgroup } from './cgroups.js';
import { NATIVE_DIR, SANDBOX_INIT, SANDBOX_INIT_DIR, type Sandbox, type SandboxDriver, type SandboxExit, type SandboxSpec, type SnapshotDriver } from './driver.js';
import { seccompArgs, type SeccompFilter } from './seccomp.js';
import { openStdioFifo, STDIO_FIFO } from './stdio-fifo.js';

export interface BubblewrapOptions {
  bwrapPath: string;
  /** The function's uid/gid inside the sandbox (Lambda's sbx_user1051: 993/990). */
  uid: number;
  gid: number;
  /**
   * Sandbox uids/gids 1-65535 are host ids hostIdBase+1 .. hostIdBase+65535: the function runs
   * as an unprivileged host uid that owns nothing on the host (never root, never Stratus's own).
   */
  hostIdBase: number;
  cgroups: CgroupManager;
  /** CPU cap floor in cores; Lambda's proportion is memoryMb / 1769. */
  minCpuCores: number;
  pidsMax: number;
  /** slirp4netns, for sandboxes with outbound network. */
  slirpPath: string;
  /** Extra host paths bound read-only at the same place (e.g. a runtime binary outside /usr). */
  extraReadOnlyPaths?: string[];
  /** The seccomp filter of every sandbox (seccomp.ts); bwrap reads it from one more pipe. */
  seccomp: SeccompFilter;
}

/** /etc/java-17-openjdk: the JDK's configuration (jvm.cfg, java.security), which its /usr tree links to. */
/** /etc/hosts is not the host's: a launch binds the sandboxes' own (see worker/launch/common.ts). */
export const ETC_FILES = ['/etc/ssl', '/etc/ca-certificates', '/etc/localtime', '/etc/nsswitch.conf', '/etc/java-17-openjdk'];
/** Lambda: 1,769 MB of memory is one vCPU. */
const MB_PER_VCPU = 1769;
/** Joins the cgroups (so every byte and pid of the sandbox is accounted), then becomes bwrap. */
const JOIN_CGROUPS = 'for f in $STRATUS_CGROUP_PROCS; do echo $$ > "$f" || exit 125; done; unset STRATUS_CGROUP_PROCS; exec "$@"';
/**
 * The whole environment of the host-side launchers (sh, bwrap, criu, runsc) and of stratus-init: fixed.
 * The function's variables reach only its runtime, through a file stratus-init reads inside.
 */
export const LAUNCHER_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
/** The runtime's environment, written into the control directory (read by stratus-init only). */
const ENVIRON_FILE = 'environ';
/**
 * The sandbox's own procfs, read-only as a whole (kernel settings under /proc/sys, sysrq; what a
 * process writes about itself goes through syscalls), and a minimal /dev.
 */
const PROC_AND_DEV = ['--proc', '/proc', '--remount-ro', '/proc', '--dev', '/dev'];
/** bwrap's pipes: 3 info (child pid), 4 block (network ready), 5 userns block (maps written), 6 the seccomp filter. */
const SECCOMP_FD = 6;
/** The unprivileged id stratus-init drops to once the runtime is started (see stratus-init.c). */
const NOBODY = 65534;

/** Sandboxes as process trees in their own pid, mount, ipc, uts, user and network namespaces. */
export class BubblewrapSandboxDriver implements SandboxDriver {
  readonly name = 'bubblewrap';
  private readonly rootArgs: string[];

  constructor(private readonly opts: BubblewrapOptions) {
    if (opts.hostIdBase < 1 || opts.hostIdBase + NOBODY >= 2 ** 32 - 1) throw new StratusError('InvalidConfig', `sandbox.hostIdBase ${opts.hostIdBase} is out of range`);
    const own = process.getuid?.() ?? 0;
    if (own !== 0) throw new StratusError('InvalidConfig', 'The bubblewrap sandbox driver maps each sandbox to an unprivileged host uid range, which needs root');
    this.rootArgs = baseFilesystemArgs(opts.extraReadOnlyPaths ?? []);
  }

  /** Checkpoint and restore with CRIU, when configured (see criu.ts). */
  snapshots?: SnapshotDriver;

  async create(spec: SandboxSpec): Promise<Sandbox> {
    const [fifo] = await Promise.all([
      spec.checkpointable ? openStdioFifo(spec.controlDir) : undefined,
      writeFile(join(spec.controlDir, ENVIRON_FILE), environFile(spec.env), { mode: 0o600 }),
    ]);
    let network: OutboundNetwork | undefined;
    const started = await spawnInCgroups(this.opts, spec, this.opts.bwrapPath, this.argsFor(spec), SECCOMP_FD + 1, () => {
      network?.stop();
      fifo?.release();
    });
    const { child, exited } = started;
    sendAndClose(child, SECCOMP_FD, this.opts.seccomp.bpf);
    try {
      const pid = await readChildPid(child, exited);
      writeIdMaps(pid, this.opts.hostIdBase);
      // The user namespace's maps are written: bwrap goes on (--userns-block-fd).
      sendAndClose(child, 5, 'go');
      if (spec.network === 'outbound') network = await startOutboundNetwork(this.opts.slirpPath, pid);
      // bwrap waits on --block-fd until the network namespace is ready.
      sendAndClose(child, 4, 'go');
      return new BubblewrapSandbox(spec.id, pid, child, exited, started, { stdout: fifo?.output });
    } catch (cause) {
      child.kill('SIGKILL');
      await exited;
      throw new StratusError('SandboxCreateFailed', `Could not start sandbox ${spec.id}: ${String(cause)}`, { cause });
    }
  }

  /**
   * Every sandbox: a user namespace whose maps Stratus writes (uid 0 for bwrap's own set-up, the
   * rest an unprivileged host range), stratus-init as pid 1 dropping the runtime to the
   * function's uid with no capability and itself to nobody, a cgroup namespace rooted at the
   * sandbox's own cgroups. A checkpointable one (SnapStart) also opens its stdio inside (CRIU
   * cannot restore host descriptors), has a tmpfs /run/rapid for stratus-init's socket, and no
   * cgroup namespace (CRIU 4.1 fails to move a restored thread out of one into the clone's cgroups).
   */
  private argsFor(spec: SandboxSpec): string[] {
    const [init = '', ...rest] = withInit(spec.command);
    const binds = spec.binds?.some((b) => b.target === SANDBOX_INIT_DIR) ? spec.binds : [...(spec.binds ?? []), { source: NATIVE_DIR, target: SANDBOX_INIT_DIR }];
    const initOptions = [
      '--user', String(this.opts.uid), String(this.opts.gid), '--environ', `/run/stratus/${ENVIRON_FILE}`,
      ...(spec.checkpointable ? ['--checkpoint', `/run/stratus/${STDIO_FIFO}`] : []),
    ];
    return [
      '--unshare-user', '--userns-block-fd', '5', ...(spec.checkpointable ? [] : ['--unshare-cgroup']),
      '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-net',
      '--cap-drop', 'ALL', '--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID',
      // A checkpointable sandbox's init calls setsid itself (CRIU restores the session).
      ...(spec.checkpointable ? [] : ['--new-session']),
      '--hostname', 'localhost',
      '--die-with-parent', '--as-pid-1',
      '--info-fd', '3', '--block-fd', '4', ...seccompArgs(SECCOMP_FD),
      ...(spec.rootDir ? ['--ro-bind', spec.rootDir, '/', ...PROC_AND_DEV] : this.rootArgs),
      ...(spec.checkpointable ? rapidArgs(spec) : []),
      // The function's uid owns no mount: /tmp is sticky and open to all, as on Lambda.
      '--perms', '1777', '--size', String(spec.tmpSizeMb * 1024 * 1024), '--tmpfs', '/tmp',
      ...(spec.rootDir ? [] : codeArgsFor(spec)),
      ...binds.flatMap((b) => ['--ro-bind', b.source, b.target]),
      '--ro-bind', spec.controlDir, '/run/stratus',
      '--chdir', spec.workingDir ?? '/var/task',
      '--',
      init, ...initOptions, ...rest,
    ];
  }
}

/** Writes `data` to one of bwrap's one-shot pipes and lets the pipe go: a kept handle costs memory as long as the sandbox lives. */
function sendAndClose(child: ChildProcess, fd: number, data: string | Buffer): void {
  const pipe = child.stdio[fd] as (NodeJS.WritableStream & { destroy(): void }) | null | undefined;
  pipe?.end(data, () => pipe.destroy());
}

/**
 * stratus-init is every sandbox's pid 1 (it alone may start as the namespace's root, to drop the
 * runtime to the function's uid): a bare command is run under it, relaying the usual Runtime API.
 */
function withInit(command: string[]): string[] {
  return command[0] === SANDBOX_INIT ? command : [SANDBOX_INIT, '127.0.0.1', '9001', '/run/stratus/runtime.sock', '--', ...command];
}

/** NAME=value entries, NUL-separated (a value cannot hold a NUL: execve would cut it there anyway). */
function environFile(env: Record<string, string>): Buffer {
  return Buffer.from(Object.entries(env).map(([k, v]) => `${k}=${v.split('\0')[0]}\0`).join(''));
}

/**
 * stratus-init's socket tmpfs at /run/rapid. An image's root is read-only and may lack that
 * mount point (images imported before it was added), so there /run itself is the sandbox's own
 * small tmpfs (the image's /run is hidden, as a container runtime's /run tmpfs does) holding it.
 */
function rapidArgs(spec: SandboxSpec): string[] {
  return spec.rootDir ? ['--size', '65536', '--tmpfs', '/run', '--dir', '/run/rapid'] : ['--size', '65536', '--tmpfs', '/run/rapid'];
}

/** A zip function's code, layers and runtime client. */
function codeArgsFor(spec: SandboxSpec): string[] {
  return [
    '--ro-bind', spec.taskDir, '/var/task',
    ...(spec.optDir ? ['--ro-bind', spec.optDir, '/opt'] : ['--size', '4096', '--tmpfs', '/opt', '--remount-ro', '/opt']),
    ...(spec.runtimeDir ? ['--ro-bind', spec.runtimeDir, '/var/runtime'] : []),
  ];
}

/** Lambda's proportions for a sandbox of `memoryMb`: CPU weight and cap, memory, pids. */
export function sandboxLimits(opts: Pick<BubblewrapOptions, 'minCpuCores' | 'pidsMax'>, memoryMb: number): CgroupLimits {
  return {
    memoryBytes: memoryMb * 1024 * 1024,
    cpuWeight: (1024 * memoryMb) / MB_PER_VCPU,
    cpuCores: Math.max(opts.minCpuCores, memoryMb / MB_PER_VCPU),
    pidsMax: opts.pidsMax,
    ioWeight: Math.min(100, Math.round((100 * memoryMb) / MB_PER_VCPU)),
  };
}

export interface CgroupedChild {
  child: ChildProcess;
  /** Settles once the process has exited and its cgroups are removed. */
  exited: Promise<SandboxExit>;
  /** Peak memory of the cgroups (kept after they are removed). */
  peak(): number;
  cgroup: SandboxCgroup;
}

/**
 * Starts `file args` in fresh cgroups with the spec's limits (joined before its first
 * instruction), with `fds` pipes: stdio, then bwrap's info and block pipes (3, 4, and 5).
 */
export async function spawnInCgroups(
  opts: Pick<BubblewrapOptions, 'cgroups' | 'minCpuCores' | 'pidsMax'>, spec: SandboxSpec, file: string, args: string[], fds: number, onExit: () => void,
  /** Added to the spec's memory limit (for a driver's own processes in the sandbox's cgroups). */
  extra: { memoryAllowanceMb?: number } = {},
): Promise<CgroupedChild> {
  const limits = sandboxLimits(opts, spec.memoryMb);
  const cgroup = await opts.cgroups.create(spec.id, { ...limits, memoryBytes: limits.memoryBytes + (extra.memoryAllowanceMb ?? 0) * 1024 * 1024 });
  const child = spawn('/bin/sh', ['-c', JOIN_CGROUPS, 'sh', file, ...args], {
    env: { ...LAUNCHER_ENV, STRATUS_CGROUP_PROCS: cgroup.procsFiles.join(' ') },
    stdio: Array.from({ length: fds }, () => 'pipe' as const),
  });
  child.stdin?.end();
  // The info and block pipes are socketpairs; bwrap closing its end may reset ours.
  for (const fd of [3, 4, 5, 6]) (child.stdio[fd] as NodeJS.ReadWriteStream | null)?.on('error', () => {});
  let finalPeak: number | undefined;
  const exited = new Promise<SandboxExit>((resolve) =>
    child.once('exit', (code, signal) => {
      const oomKilled = cgroup.oomKills() > 0;
      finalPeak = cgroup.peakMemoryBytes();
      onExit();
      // A cgroup that cannot be removed is left for the next start's cleanup, never fatal.
      void cgroup.destroy().catch(() => {}).then(() => resolve({ code, signal, oomKilled }));
    }),
  );
  return { child, exited, peak: () => finalPeak ?? cgroup.peakMemoryBytes(), cgroup };
}

/**
 * uid 0 of the sandbox is host root, for bwrap's set-up alone: it must read the host paths it
 * binds and own the tmpfs it builds the root on, and CRIU needs uid 0 mapped. No process of the
 * function ever holds it: stratus-init leaves it before the runtime starts and drops every
 * capability. 1..65535 are an unprivileged host range; no setgroups deny (init clears groups).
 */
function idMap(hostIdBase: number): string {
  return `0 0 1\n1 ${hostIdBase + 1} 65535\n`;
}

function writeIdMaps(pid: number, hostIdBase: number): void {
  writeFileSync(`/proc/${pid}/uid_map`, idMap(hostIdBase));
  writeFileSync(`/proc/${pid}/gid_map`, idMap(hostIdBase));
}

/**
 * /usr, the merged-/usr symlinks (or real dirs), a minimal /etc, /proc and /dev. Directories
 * that hold mount points are made first and explicitly (0755): bwrap 0.8 creates missing
 * parents 0700, which the function's unprivileged uid could not enter.
 */
function baseFilesystemArgs(extra: string[]): string[] {
  const parents = new Set(['/etc', '/run', '/var']);
  for (const path of extra) for (let dir = dirname(path); dir !== '/'; dir = dirname(dir)) parents.add(dir);
  const args = [...[...parents].sort().flatMap((dir) => ['--dir', dir]), '--ro-bind', '/usr', '/usr'];
  for (const top of ['/bin', '/sbin', '/lib', '/lib64', '/lib32']) {
    const kind = pathKind(top);
    if (kind === 'symlink') args.push('--symlink', readlinkSync(top), top);
    else if (kind === 'dir') args.push('--ro-bind', top, top);
  }
  for (const path of [...ETC_FILES, ...extra]) args.push('--ro-bind-try', path, path);
  args.push(...PROC_AND_DEV, '--dir', '/var/tmp');
  return args;
}

function pathKind(path: string): 'symlink' | 'dir' | 'none' {
  try {
    const st = lstatSync(path);
    return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'none';
  } catch {
    return 'none';
  }
}

interface OutboundNetwork {
  stop(): void;
}

/**
 * Gives the sandbox's network namespace a user-mode route out (slirp4netns): NAT only, no
 * inbound, and host loopback refused, so the control plane stays unreachable. It exits when
 * its exit pipe closes (sandbox gone, or Stratus gone).
 */
async function startOutboundNetwork(slirpPath: string, pid: number): Promise<OutboundNetwork> {
  await loopbackReady(pid);
  const args = [
    '--configure', '--disable-host-loopback', '--enable-sandbox', '--enable-seccomp', '--ready-fd=3', '--exit-fd=4',
    '--netns-type=path', `/proc/${pid}/ns/net`, 'tap0',
  ];
  const slirp = spawn(slirpPath, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let errors = '';
  slirp.stderr?.on('data', (d: Buffer) => (errors += d.toString()));
  for (const fd of [3, 4]) (slirp.stdio[fd] as NodeJS.ReadWriteStream | null)?.on('error', () => {});
  const stop = () => {
    slirp.kill('SIGTERM');
    (slirp.stdio[4] as NodeJS.ReadWriteStream & { destroy(): void } | null)?.destroy();
  };
  const ready = new Promise<void>((resolve, reject) => {
    (slirp.stdio[3] as NodeJS.ReadableStream | null)?.once('data', () => resolve());
    slirp.once('exit', (code) => reject(new Error(`slirp4netns exited (${code}): ${errors.trim()}`)));
  });
  try {
    await ready;
  } catch (err) {
    stop();
    throw err;
  }
  return { stop };
}

/** bwrap brings `lo` up inside the namespace; configuring tap0 at the same time races with it. */
async function loopbackReady(pid: number): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (readOr(`/proc/${pid}/net/fib_trie`).includes('127.0.0.1')) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error('the sandbox loopback did not come up');
}

/** bwrap writes {"child-pid": N} to --info-fd once the sandbox's pid 1 exists. */
function readChildPid(child: ChildProcess, exited: Promise<SandboxExit>): Promise<number> {
  const info = child.stdio[3] as NodeJS.ReadableStream | null;
  if (!info) return Promise.reject(new Error('no info pipe'));
  return new Promise((resolve, reject) => {
    let text = '';
    const stderr: Buffer[] = [];
    const onStderr = (d: Buffer) => stderr.push(d);
    child.stderr?.on('data', onStderr);
    info.on('data', (d: Buffer) => {
      text += d.toString();
      const match = /"child-pid"\s*:\s*(\d+)/.exec(text);
      if (!match?.[1]) return;
      child.stderr?.off('data', onStderr).pause();
      if (stderr.length > 0) child.stderr?.unshift(Buffer.concat(stderr));
      resolve(Number(match[1]));
    });
    info.on('error', reject);
    void exited.then((e) => reject(new Error(`bwrap exited (${e.code ?? e.signal}): ${Buffer.concat(stderr).toString().trim()}`)));
  });
}

export class BubblewrapSandbox implements Sandbox {
  readonly stdout: Readable;
  readonly stderr: Readable;
  private destroyed = false;
  private gone = false;

  constructor(
    readonly id: string,
    readonly pid: number,
    private readonly child: ChildProcess,
    readonly exited: Promise<SandboxExit>,
    private readonly cgrouped: Pick<CgroupedChild, 'peak' | 'cgroup'>,
    /** Instead of the child's stdio: a checkpointable sandbox's FIFO; nothing of a clone's criu. */
    streams: { stdout?: Readable; stderr?: Readable } = {},
  ) {
    if (!child.stdout || !child.stderr) throw new Error('sandbox stdio missing');
    this.stdout = streams.stdout ?? child.stdout;
    this.stderr = streams.stderr ?? child.stderr;
    // The rest of bwrap's info (written once, at start) is read and dropped; the pipe closes with it.
    (child.stdio[3] as NodeJS.ReadableStream | null)?.removeAllListeners('data').resume();
    void exited.then(() => (this.gone = true));
  }

  peakMemoryBytes(): number {
    const fromCgroup = this.cgrouped.peak();
    if (fromCgroup > 0) return fromCgroup;
    const match = /VmHWM:\s+(\d+) kB/.exec(readOr(`/proc/${this.pid}/status`));
    return match?.[1] ? Number(match[1]) * 1024 : 0;
  }

  freeze(): Promise<void> {
    return this.cgrouped.cgroup.freeze();
  }

  thaw(): Promise<void> {
    return this.cgrouped.cgroup.thaw();
  }

  async destroy(): Promise<void> {
    if (!this.destroyed && !this.gone) {
      this.destroyed = true;
      killQuietly(this.pid);
      if (this.child.pid) killQuietly(this.child.pid);
      // A frozen process does not die of SIGKILL until it is thawed (cgroup v1).
      await this.cgrouped.cgroup.thaw().catch(() => {});
    }
    await this.exited;
  }
}

export function killQuietly(pid: number): void {
  if (pid <= 0) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
