import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { lstat, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { StratusError } from '../shared/errors.js';
import { BubblewrapSandbox, spawnInCgroups, type BubblewrapOptions } from './bubblewrap-driver.js';
import { pollUntil, readOr } from './cgroups.js';
import type { Sandbox, SandboxExit, SandboxSpec, SnapshotDriver, SnapshotImage, SnapshotOptions } from './driver.js';
import { untilFiltered } from './seccomp.js';
import { openStdioFifo } from './stdio-fifo.js';

const run = promisify(execFile);

export interface CriuOptions {
  /** The criu executable (scripts/install-criu.sh puts a working one at .cache/criu/bin/criu). */
  criuPath: string;
  sandbox: Pick<BubblewrapOptions, 'cgroups' | 'minCpuCores' | 'pidsMax'>;
  /** Set to make snapshots unavailable on purpose (e.g. to exercise the fallback). */
  disabledReason?: string;
  /** A directory of this worker's own, for criu's kernel-feature cache. */
  stateDir: string;
}

/** Starts criu in the kdat cache's mount namespace, dying with its parent (native/criu-exec.c). */
const CRIU_EXEC = fileURLToPath(new URL('../../native/criu-exec', import.meta.url));

/** Mounts whose content CRIU dumps itself; every other mount is a bind from the host. */
const OWN_FILESYSTEMS = new Set(['tmpfs', 'proc', 'devpts', 'mqueue', 'sysfs']);
/** Files restoring needs: what mounts are external, and the skeleton root they go onto. */
const META = 'snapshot.json';
/** CRIU's image of the dumped tasks' seccomp filters. */
const SECCOMP_IMAGE = 'seccomp.img';
/** How long a clone may take to get its filter back after criu wrote its pid (a few ms here). */
const FILTER_WAIT_MS = 2_000;
const MARKER = 'restored';
/** How long criu may take to let go of a restored tree before a paused clone is frozen. */
const CRIU_DONE_MS = 5_000;

interface SnapshotMeta {
  /** Mount points inside the sandbox that are binds of host paths (their key is the path). */
  external: string[];
  /**
   * What criu's --root is on restore: the skeleton copied into the snapshot (root/), or the
   * restoring sandbox's own image root (a container image's read-only root filesystem, which
   * holds every mount point already; it is mounted per worker, so its path is the clone's).
   */
  root?: 'skeleton' | 'image';
  /** Every mount point inside the sandbox (each must be a plain directory of the root on restore). */
  mounts?: string[];
  /** An image's sandbox: the image's manifest digest (a clone of another image's sandbox is refused). */
  rootDigest?: string;
}

/**
 * Checkpoint and restore of checkpointable bubblewrap sandboxes with CRIU (SnapStart). A
 * snapshot directory holds CRIU's images (img/), a skeleton of the sandbox's root file system
 * (root/: its directories, symlinks and mount points), and snapshot.json. A clone is restored
 * by `criu restore` started inside the clone's own cgroups (`--manage-cgroups=ignore`: the
 * restored tree inherits them), with the clone's control directory, code and runtime bound
 * where the original's were.
 */
export class CriuSnapshots implements SnapshotDriver {
  private checked: Promise<string | undefined> | undefined;
  /** Where criu finds its kernel-feature cache ('' when it could not be made: criu probes). */
  private kdatDir = '';

  constructor(private readonly opts: CriuOptions) {}

  unavailableReason(): Promise<string | undefined> {
    this.checked ??= this.check();
    return this.checked;
  }

  private async check(): Promise<string | undefined> {
    if (this.opts.disabledReason) return this.opts.disabledReason;
    if (!existsSync(this.opts.criuPath)) return `CRIU is not installed (${this.opts.criuPath} is missing)`;
    try {
      const { stdout } = await run(this.opts.criuPath, ['check'], { timeout: 30_000 });
      if (!stdout.includes('Looks good')) return `criu check failed: ${stdout.trim()}`;
      this.kdatDir = await makeKdatCache(this.opts.criuPath, this.opts.stateDir);
      return undefined;
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      return `criu check failed: ${lastErrors(`${e.stdout ?? ''}${e.stderr ?? ''}`) || e.message}`;
    }
  }

  async checkpoint(sandbox: Sandbox, spec: SandboxSpec, dir: string, opts: SnapshotOptions & { signal?: AbortSignal } = {}): Promise<SnapshotImage> {
    const pid = sandbox.pid;
    await mkdir(join(dir, 'img'), { recursive: true });
    const mounts = mountPoints(pid);
    const paths = mounts.map((m) => m.mountPoint);
    // A bind of part of a filesystem (its root is a subdirectory, as the run directory's tmpfs
    // gives /run/stratus and /var/runtime) comes from outside too, whatever its type.
    const external = mounts.filter((m) => !OWN_FILESYSTEMS.has(m.fstype) || m.root !== '/').map((m) => m.mountPoint);
    // An image's root is not copied: it is a lazy FUSE-backed mount whose reads this process serves.
    if (!spec.rootDir) await copySkeleton(`/proc/${pid}/root`, join(dir, 'root'), new Set(paths));
    await checkMountPaths(spec.rootDir ?? join(dir, 'root'), paths);
    if (spec.rootDir && !opts.rootDigest) throw new StratusError('SnapshotFailed', 'The image\'s digest is needed to checkpoint its sandbox');
    const meta: SnapshotMeta = { external, root: spec.rootDir ? 'image' : 'skeleton', mounts: paths, ...(spec.rootDir ? { rootDigest: opts.rootDigest } : {}) };
    await writeFile(join(dir, META), JSON.stringify(meta));
    const args = ['dump', '-t', String(pid), '-D', join(dir, 'img'), '-W', dir, '-o', 'dump.log', '--tcp-established', '--network-lock', 'skip',
      ...external.flatMap((m) => ['--external', `mnt[${m}]:${m}`])];
    try {
      // Aborted: criu-exec is criu itself (exec'd); the sandbox's tasks it had seized are detached and the caller destroys them.
      await run(CRIU_EXEC, [this.kdatDir, '--', this.opts.criuPath, ...args], { timeout: 120_000, killSignal: 'SIGKILL', ...(opts.signal ? { signal: opts.signal } : {}) });
    } catch (err) {
      const log = readOr(join(dir, 'dump.log'));
      throw new StratusError('SnapshotFailed', `criu dump failed: ${lastErrors(log) || String(err)}`, { cause: err });
    }
    await sandbox.exited;
    await dropDefaultNetworkState(join(dir, 'img'));
    return { dir };
  }

  async restore(spec: SandboxSpec, image: SnapshotImage, opts: SnapshotOptions & { paused?: boolean } = {}): Promise<Sandbox> {
    // Also after a restart with snapshots made before it: criu must work here, and has its cache.
    const unavailable = await this.unavailableReason();
    if (unavailable) throw new StratusError('SnapshotFailed', unavailable);
    // A snapshot made before sandboxes had a seccomp filter would give an unfiltered clone.
    if (!(statSync(join(image.dir, 'img', SECCOMP_IMAGE), { throwIfNoEntry: false })?.size ?? 0)) {
      throw new StratusError('SnapshotFailed', 'The snapshot was made without a seccomp filter; publish the version again');
    }
    const meta = JSON.parse(readFileSync(join(image.dir, META), 'utf8')) as SnapshotMeta;
    const root = rootOf(meta, spec, image, opts.rootDigest);
    await checkMountPaths(root, meta.mounts ?? meta.external);
    const [fifo] = await Promise.all([
      openStdioFifo(spec.controlDir),
      // Without the marker the clone's init keeps holding the runtime's request (see resume).
      opts.paused ? undefined : writeFile(join(spec.controlDir, MARKER), ''),
    ]);
    const sources = bindSources(spec);
    const pidFile = join(spec.controlDir, 'sandbox.pid');
    const args = ['restore', '-D', join(image.dir, 'img'), '-W', spec.controlDir, '-o', 'restore.log', '--root', root,
      '--tcp-established', '--manage-cgroups=ignore', '--pidfile', pidFile,
      ...meta.external.flatMap((m) => ['--external', `mnt[${m}]:${sources.get(m) ?? realpathSync(m)}`])];
    // criu stays the clone's parent; if Stratus dies, criu is killed, and the clone with it
    // (its pid 1 keeps bwrap's --die-with-parent signal, now aimed at criu).
    const started = await spawnInCgroups(this.opts.sandbox, spec, CRIU_EXEC, [this.kdatDir, '--', this.opts.criuPath, ...args], 3, () => fifo.release());
    const { child, exited } = started;
    child.stdout?.resume();
    try {
      const pid = await restoredPid(pidFile, exited);
      // The clone's seccomp filter comes from the images, not from bwrap; criu installs it in
      // each thread just after it has written the pid file.
      await untilFiltered(pid, FILTER_WAIT_MS);
      // criu is the clone's parent process; its own messages are not the function's output.
      child.stderr?.resume();
      const sandbox = new BubblewrapSandbox(spec.id, pid, child, exited, started, { stdout: fifo.output, stderr: Readable.from([]) });
      if (opts.paused) {
        // Frozen once criu has finished (it has let go of every task and only waits for the clone): nothing of it runs until resumed.
        await criuDone(child.pid ?? 0, pid);
        await sandbox.freeze();
      }
      return sandbox;
    } catch (cause) {
      // A frozen process only dies of SIGKILL once thawed (cgroup v1).
      if (opts.paused) await started.cgroup.thaw().catch(() => {});
      child.kill('SIGKILL');
      await exited;
      const log = readOr(join(spec.controlDir, 'restore.log'));
      throw new StratusError('SnapshotFailed', `criu restore failed: ${lastErrors(log) || String(cause)}`, { cause });
    }
  }

  async resume(sandbox: Sandbox, spec: Pick<SandboxSpec, 'controlDir'>): Promise<void> {
    await writeFile(join(spec.controlDir, MARKER), '');
    await sandbox.thaw();
  }
}

/**
 * Until criu is done with the restored tree: no task of it is traced any more (criu detaches
 * after restoring seccomp filters) and criu itself only waits for the tree. Freezing before
 * that could stop criu while it holds a task stopped, and the freeze would never complete.
 */
function criuDone(criuPid: number, rootPid: number): Promise<void> {
  return pollUntil(() => readOr(`/proc/${criuPid}/wchan`).trim() === 'do_wait' && !tracedTask(rootPid), CRIU_DONE_MS, `criu did not let go of the tree of ${rootPid}`);
}

/** Whether a task of the tree below `rootPid` is traced (by criu). */
function tracedTask(rootPid: number): boolean {
  const pending = [rootPid];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    for (const tid of readdirOr(`/proc/${pid}/task`)) {
      if (!/^TracerPid:\s*0$/m.test(readOr(`/proc/${pid}/task/${tid}/status`, 'TracerPid:\t0'))) return true;
      pending.push(...readOr(`/proc/${pid}/task/${tid}/children`).split(' ').filter(Boolean).map(Number));
    }
  }
  return false;
}

function readdirOr(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return []; // exited meanwhile
  }
}

/**
 * A checkpointable sandbox's network namespace has only `lo`: its addresses, routes, rules and
 * (empty) firewall tables are what the kernel sets up when criu brings `lo` up again. Without
 * these images a restore runs no `ip` / `iptables-restore` processes (~8 fewer per clone).
 */
async function dropDefaultNetworkState(imgDir: string): Promise<void> {
  const defaults = /^(ifaddr|route|route6|rule|iptables|ip6tables|nftables)-\d+\.img$/;
  await Promise.all((await readdir(imgDir)).filter((f) => defaults.test(f)).map((f) => rm(join(imgDir, f))));
}

/**
 * criu probes the kernel's features on every start unless /run/criu.kdat holds them, and saves
 * that file only where /run is a tmpfs. Made once here (criu check with a tmpfs at /run, in a
 * private mount namespace), then offered to each criu at /run by criu-exec. '' if it fails.
 */
async function makeKdatCache(criuPath: string, stateDir: string): Promise<string> {
  const dir = join(stateDir, 'kdat');
  try {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const script = 'mount -t tmpfs -o size=1m stratus-kdat /run && "$0" check >/dev/null && cp /run/criu.kdat "$1/"';
    await run('unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', script, criuPath, dir], { timeout: 30_000 });
    return existsSync(join(dir, 'criu.kdat')) ? dir : '';
  } catch {
    return '';
  }
}

/** criu's --root for a clone: the snapshot's skeleton, or (an image's snapshot) the clone's own image root. */
function rootOf(meta: SnapshotMeta, spec: SandboxSpec, image: SnapshotImage, rootDigest: string | undefined): string {
  const fromImage = meta.root === 'image';
  if (fromImage !== (spec.rootDir !== undefined)) {
    throw new StratusError('SnapshotFailed', `The snapshot was made of ${fromImage ? 'a container image' : 'a zip'} sandbox, not of this one`);
  }
  if (fromImage && (!meta.rootDigest || meta.rootDigest !== rootDigest)) {
    throw new StratusError('SnapshotFailed', meta.rootDigest ? `The snapshot was made of image ${meta.rootDigest}, not of ${rootDigest ?? 'this one'}` : 'The snapshot does not name its image; publish the version again');
  }
  return spec.rootDir ?? join(image.dir, 'root');
}

/**
 * criu runs as host root and resolves every mount point through the sandbox's root, which for an
 * image is the tenant's: each directory on the way to a mount point (and the mount point itself)
 * must be a plain directory of that root (a mount point may be a regular file, for a file's bind),
 * never a symlink or anything else that could lead criu somewhere else. A path below another mount
 * point is in that mount's filesystem, not the root's; a path missing from the root is left to criu.
 * Any other lstat failure counts as missing too: criu then fails on it itself.
 */
export async function checkMountPaths(root: string, mounts: string[]): Promise<void> {
  const points = new Set(mounts);
  for (const mount of mounts) {
    let path = '';
    for (const part of mount.split('/').filter(Boolean)) {
      path += `/${part}`;
      // Never lstatSync: an image root's reads are served through this process (its chunk server).
      const st = await lstat(join(root, path)).catch(() => undefined);
      if (!st) break;
      const last = path === mount;
      if (!st.isDirectory() && !(last && st.isFile())) {
        throw new StratusError('SnapshotFailed', `The sandbox's root has ${st.isSymbolicLink() ? 'a symlink' : 'a non-directory'} at ${path} (on the way to mount point ${mount}): refused`);
      }
      if (points.has(path) && !last) break;
    }
  }
}

/** Where each bind of a sandbox comes from on the host, by its path inside. */
function bindSources(spec: SandboxSpec): Map<string, string> {
  const sources = new Map<string, string>([['/var/task', spec.taskDir], ['/run/stratus', spec.controlDir]]);
  if (spec.optDir) sources.set('/opt', spec.optDir);
  if (spec.runtimeDir) sources.set('/var/runtime', spec.runtimeDir);
  for (const bind of spec.binds ?? []) sources.set(bind.target, bind.source);
  return sources;
}

interface MountPoint {
  /** The path inside its filesystem that is mounted ("/" for a whole filesystem). */
  root: string;
  mountPoint: string;
  fstype: string;
}

/** The sandbox's mounts below its root, from /proc/<pid>/mountinfo. */
function mountPoints(pid: number): MountPoint[] {
  const out: MountPoint[] = [];
  for (const line of readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    const [root = '', mountPoint] = left?.split(' ').slice(3, 5) ?? [];
    const fstype = right?.split(' ')[0];
    if (mountPoint && fstype && mountPoint !== '/') out.push({ root, mountPoint: mountPoint.replace(/\\040/g, ' '), fstype });
  }
  return out;
}

/** Copies the sandbox's root file system (directories, symlinks, mount points) without descending into mounts. */
async function copySkeleton(from: string, to: string, mountPoints: Set<string>, rel = ''): Promise<void> {
  await mkdir(join(to, rel), { recursive: true, mode: 0o755 });
  for (const name of await readdir(join(from, rel))) {
    const path = `${rel}/${name}`;
    const st = lstatSync(join(from, path));
    if (st.isSymbolicLink()) await symlink(readlinkSync(join(from, path)), join(to, path));
    else if (st.isDirectory() && !mountPoints.has(path)) await copySkeleton(from, to, mountPoints, path);
    else if (st.isDirectory()) await mkdir(join(to, path), { mode: 0o755 });
    else await writeFile(join(to, path), '', { mode: 0o644 });
  }
}

/** criu writes the restored tree's root pid once the restore is done; it exits if it fails. */
async function restoredPid(pidFile: string, exited: Promise<SandboxExit>): Promise<number> {
  let gone: SandboxExit | undefined;
  void exited.then((e) => (gone = e));
  for (let i = 0; i < 30_000; i++) {
    const text = readOr(pidFile).trim();
    if (text) return Number(text);
    if (gone) throw new Error(`criu exited (${gone.code ?? gone.signal})`);
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error('criu restore did not finish');
}

/** The lines of a criu log that say what went wrong. */
function lastErrors(log: string): string {
  return log.split('\n').filter((l) => /Error|error/.test(l) && !/RLIMIT_NOFILE/.test(l)).slice(-3).map((l) => l.replace(/^\([\d.]+\)\s*/, '').trim()).join('; ');
}
