import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, readlinkSync, writeFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { StratusError } from '../shared/errors.js';
import { readOr, type CgroupLimits, type CgroupManager } from './cgroups.js';
import type { Sandbox, SandboxDriver, SandboxExit, SandboxSpec, SnapshotDriver } from './driver.js';
import { seccompArgs, type SeccompFilter } from './seccomp.js';
import { openStdioFifo, STDIO_FIFO } from './stdio-fifo.js';

export interface BubblewrapOptions {
  bwrapPath: string;
  uid: number;
  gid: number;
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

const ETC_FILES = ['/etc/ssl', '/etc/ca-certificates', '/etc/hosts', '/etc/localtime', '/etc/nsswitch.conf'];
/** Lambda: 1,769 MB of memory is one vCPU. */
const MB_PER_VCPU = 1769;
/** Joins the cgroups (so every byte and pid of the sandbox is accounted), then becomes bwrap. */
const JOIN_CGROUPS = 'for f in $STRATUS_CGROUP_PROCS; do echo $$ > "$f" || exit 125; done; unset STRATUS_CGROUP_PROCS; exec "$@"';

/** Sandboxes as process trees in their own pid, mount, ipc, uts, user and network namespaces. */
export class BubblewrapSandboxDriver implements SandboxDriver {
  readonly name = 'bubblewrap';
  private readonly rootArgs: string[];

  constructor(private readonly opts: BubblewrapOptions) {
    this.rootArgs = baseFilesystemArgs(opts.extraReadOnlyPaths ?? []);
  }

  /** Checkpoint and restore with CRIU, when configured (see criu.ts). */
  snapshots?: SnapshotDriver;

  async create(spec: SandboxSpec): Promise<Sandbox> {
    const fifo = spec.checkpointable ? await openStdioFifo(spec.controlDir) : undefined;
    let network: OutboundNetwork | undefined;
    const seccompFd = spec.checkpointable ? 6 : 5;
    const started = await spawnInCgroups(this.opts, spec, this.opts.bwrapPath, this.argsFor(spec, seccompFd), seccompFd + 1, () => {
      network?.stop();
      fifo?.release();
    });
    const { child, exited } = started;
    const seccompPipe = (child.stdio as unknown as NodeJS.WritableStream[])[seccompFd];
    seccompPipe?.on('error', () => {}).end(this.opts.seccomp.bpf);
    try {
      const pid = await readChildPid(child, exited);
      if (spec.checkpointable) writeIdMaps(pid);
      else if (spec.network === 'outbound') network = await startOutboundNetwork(this.opts.slirpPath, pid);
      // bwrap waits on --block-fd (and --userns-block-fd) until the namespaces are ready.
      (child.stdio[4] as NodeJS.WritableStream).end('go');
      if (spec.checkpointable) (child.stdio as unknown as NodeJS.WritableStream[])[5]?.end('go');
      return new BubblewrapSandbox(spec.id, pid, child, exited, started.peak, { stdout: fifo?.output });
    } catch (cause) {
      child.kill('SIGKILL');
      await exited;
      throw new StratusError('SandboxCreateFailed', `Could not start sandbox ${spec.id}: ${String(cause)}`, { cause });
    }
  }

  private argsFor(spec: SandboxSpec, seccompFd: number): string[] {
    // CRIU can dump a user namespace whose map includes uid 0 (written by us, below), not bwrap's
    // `--uid` map; the init then drops to the function's uid itself and opens its own stdio.
    const identity = spec.checkpointable
      ? ['--unshare-user', '--userns-block-fd', '5', '--dir', '/etc', '--dir', '/run', '--size', '65536', '--tmpfs', '/run/rapid']
      : ['--unshare-user', '--unshare-cgroup-try', '--uid', String(this.opts.uid), '--gid', String(this.opts.gid), '--new-session'];
    const [init = '', ...rest] = spec.command;
    const command = spec.checkpointable ? [init, '--checkpoint', `/run/stratus/${STDIO_FIFO}`, String(this.opts.uid), String(this.opts.gid), ...rest] : spec.command;
    return [
      ...identity, '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-net',
      '--hostname', 'localhost',
      '--die-with-parent', '--as-pid-1',
      '--info-fd', '3', '--block-fd', '4', ...seccompArgs(seccompFd),
      ...(spec.rootDir ? ['--ro-bind', spec.rootDir, '/', '--proc', '/proc', '--dev', '/dev'] : this.rootArgs),
      // Under the uid-0 map the function's uid does not own new mounts: /tmp is sticky and open to all.
      ...(spec.checkpointable ? ['--perms', '1777'] : []), '--size', String(spec.tmpSizeMb * 1024 * 1024), '--tmpfs', '/tmp',
      ...(spec.rootDir ? [] : codeArgsFor(spec)),
      ...(spec.binds ?? []).flatMap((b) => ['--ro-bind', b.source, b.target]),
      '--ro-bind', spec.controlDir, '/run/stratus',
      '--chdir', spec.workingDir ?? '/var/task',
      '--',
      ...command,
    ];
  }
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
  };
}

export interface CgroupedChild {
  child: ChildProcess;
  /** Settles once the process has exited and its cgroups are removed. */
  exited: Promise<SandboxExit>;
  /** Peak memory of the cgroups (kept after they are removed). */
  peak(): number;
}

/**
 * Starts `file args` in fresh cgroups with the spec's limits (joined before its first
 * instruction), with `fds` pipes: stdio, then bwrap's info and block pipes (3, 4, and 5).
 */
export async function spawnInCgroups(
  opts: Pick<BubblewrapOptions, 'cgroups' | 'minCpuCores' | 'pidsMax'>, spec: SandboxSpec, file: string, args: string[], fds: number, onExit: () => void,
): Promise<CgroupedChild> {
  const cgroup = await opts.cgroups.create(spec.id, sandboxLimits(opts, spec.memoryMb));
  const child = spawn('/bin/sh', ['-c', JOIN_CGROUPS, 'sh', file, ...args], {
    env: { ...spec.env, STRATUS_CGROUP_PROCS: cgroup.procsFiles.join(' ') },
    stdio: Array.from({ length: fds }, () => 'pipe' as const),
  });
  child.stdin?.end();
  // The info and block pipes are socketpairs; bwrap closing its end may reset ours.
  for (const fd of [3, 4, 5]) (child.stdio[fd] as NodeJS.ReadWriteStream | null)?.on('error', () => {});
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
  return { child, exited, peak: () => finalPeak ?? cgroup.peakMemoryBytes() };
}

/** uid 0 maps to root (CRIU needs it), 1..65535 to an unprivileged host range; no setgroups deny. */
export const ID_MAP = '0 0 1\n1 200001 65535\n';

function writeIdMaps(pid: number): void {
  writeFileSync(`/proc/${pid}/uid_map`, ID_MAP);
  writeFileSync(`/proc/${pid}/gid_map`, ID_MAP);
}

/** /usr, the merged-/usr symlinks (or real dirs), a minimal /etc, /proc and /dev. */
function baseFilesystemArgs(extra: string[]): string[] {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const top of ['/bin', '/sbin', '/lib', '/lib64', '/lib32']) {
    const kind = pathKind(top);
    if (kind === 'symlink') args.push('--symlink', readlinkSync(top), top);
    else if (kind === 'dir') args.push('--ro-bind', top, top);
  }
  for (const path of [...ETC_FILES, ...extra]) args.push('--ro-bind-try', path, path);
  args.push('--proc', '/proc', '--dev', '/dev', '--dir', '/var/tmp');
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
    private readonly cgroupPeak: () => number,
    /** Instead of the child's stdio: a checkpointable sandbox's FIFO; nothing of a clone's criu. */
    streams: { stdout?: Readable; stderr?: Readable } = {},
  ) {
    if (!child.stdout || !child.stderr) throw new Error('sandbox stdio missing');
    this.stdout = streams.stdout ?? child.stdout;
    this.stderr = streams.stderr ?? child.stderr;
    (child.stdio[3] as NodeJS.ReadableStream | null)?.removeAllListeners('data');
    void exited.then(() => (this.gone = true));
  }

  peakMemoryBytes(): number {
    const fromCgroup = this.cgroupPeak();
    if (fromCgroup > 0) return fromCgroup;
    const match = /VmHWM:\s+(\d+) kB/.exec(readOr(`/proc/${this.pid}/status`));
    return match?.[1] ? Number(match[1]) * 1024 : 0;
  }

  async destroy(): Promise<void> {
    if (!this.destroyed && !this.gone) {
      this.destroyed = true;
      killQuietly(this.pid);
      if (this.child.pid) killQuietly(this.child.pid);
    }
    await this.exited;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
