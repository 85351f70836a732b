import { existsSync, lstatSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SandboxSpec } from './driver.js';

/**
 * The OCI bundle (config.json + a root filesystem skeleton) of one gVisor sandbox. It gives the
 * layout driver.ts describes, the same one the bubblewrap driver builds with its arguments.
 */
export interface BundleOptions {
  uid: number;
  gid: number;
  /** Host /etc files and directories bound read-only at the same place (when present). */
  etcFiles: string[];
  /** Extra host paths bound read-only at the same place (e.g. a runtime binary outside /usr). */
  extraReadOnlyPaths: string[];
}

interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** clone's and unshare's flag for a new user namespace. */
const CLONE_NEWUSER = 0x10000000;
const EPERM = 1;

/**
 * Applied by the sentry to the function's processes (runsc --oci-seccomp). gVisor emulates
 * these in its own kernel already; refusing them as Lambda does keeps a tenant from building
 * on namespaces, mounts or keyrings there (less sentry code within reach, and the same answer
 * as in a bubblewrap sandbox). clone's flags can be checked; clone3's (in memory) cannot, but
 * this gVisor has no clone3 (ENOSYS: libc falls back to clone). A filter rule for clone3 is no
 * answer: this runsc ignores errnoRet, and an EPERM from clone3 breaks every pthread_create.
 */
const SECCOMP = {
  defaultAction: 'SCMP_ACT_ALLOW',
  architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  syscalls: [
    {
      names: ['unshare', 'setns', 'mount', 'umount2', 'pivot_root', 'chroot', 'keyctl', 'add_key', 'request_key', 'bpf', 'perf_event_open', 'ptrace', 'personality', 'userfaultfd'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: EPERM,
    },
    { names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [{ index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' }] },
  ],
};

/** Lambda's open files limit. */
const NOFILE = 1024;
const MERGED_USR = ['/bin', '/sbin', '/lib', '/lib64', '/lib32'];

/** Writes `dir`/config.json and `dir`/rootfs (empty mount points only) for `spec`. */
export async function writeBundle(dir: string, spec: SandboxSpec, opts: BundleOptions): Promise<void> {
  const rootfs = join(dir, 'rootfs');
  // config.json holds the function's environment: the bundle is root's alone (runsc reads it as root).
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await mkdir(rootfs, { mode: 0o755 });
  const mounts = spec.rootDir ? imageMounts(spec) : zipMounts(spec, opts);
  if (!spec.rootDir) {
    await skeleton(rootfs, mounts);
    for (const top of MERGED_USR) {
      const kind = pathKind(top);
      if (kind === 'symlink') await symlink(readlinkSync(top), join(rootfs, top));
    }
  }
  const config = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: opts.uid, gid: opts.gid, additionalGids: [] },
      args: spec.command,
      env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      cwd: spec.workingDir ?? '/var/task',
      capabilities: { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: NOFILE, soft: NOFILE }],
      noNewPrivileges: true,
    },
    root: { path: spec.rootDir ?? rootfs, readonly: true },
    hostname: 'localhost',
    mounts,
    linux: {
      namespaces: ['pid', 'network', 'ipc', 'uts', 'mount'].map((type) => ({ type })),
      // Only read if runsc ever runs without --ignore-cgroups: relative, so it nests below the
      // caller's (the sandbox's own) cgroup and never lands at the root of a hierarchy.
      cgroupsPath: `gvisor-${spec.id.slice(0, 12)}`,
      seccomp: SECCOMP,
    },
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config), { mode: 0o600 });
}

/** /proc, /dev, /tmp (tmpSizeMb), the binds and the control directory: common to every sandbox. */
function commonMounts(spec: SandboxSpec): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', `size=${spec.tmpSizeMb}m`] },
    ...(spec.binds ?? []).map((b) => bind(b.source, b.target, true)),
    // Read-write at the mount level only so that connect() on the Runtime API socket passes
    // (--host-uds=open); the directory itself is root's and 0755, so the function cannot write.
    bind(spec.controlDir, '/run/stratus', false),
  ];
}

function zipMounts(spec: SandboxSpec, opts: BundleOptions): OciMount[] {
  const hostPaths = [...opts.etcFiles, ...opts.extraReadOnlyPaths].filter((p) => existsSync(p));
  const mergedDirs = MERGED_USR.filter((p) => pathKind(p) === 'dir');
  return [
    bind('/usr', '/usr', true),
    ...mergedDirs.map((p) => bind(p, p, true)),
    ...hostPaths.map((p) => bind(p, p, true)),
    bind(spec.taskDir, '/var/task', true),
    ...(spec.optDir ? [bind(spec.optDir, '/opt', true)] : []),
    ...(spec.runtimeDir ? [bind(spec.runtimeDir, '/var/runtime', true)] : []),
    ...commonMounts(spec),
  ];
}

/** A container image is `/` (read-only, with its own mount points, see images/flatten.ts). */
function imageMounts(spec: SandboxSpec): OciMount[] {
  return commonMounts(spec);
}

function bind(source: string, destination: string, readonly: boolean): OciMount {
  return { destination, type: 'bind', source, options: ['rbind', readonly ? 'ro' : 'rw', 'nosuid', 'nodev'] };
}

/** The root is read-only: every mount point must exist beforehand (a file for a file, else a dir). */
async function skeleton(rootfs: string, mounts: OciMount[]): Promise<void> {
  for (const dir of ['/var/tmp', '/opt', '/etc', '/run']) await mkdir(join(rootfs, dir), { recursive: true, mode: 0o755 });
  for (const m of mounts) {
    const target = join(rootfs, m.destination);
    if (m.type === 'bind' && isFile(m.source)) {
      await mkdir(dirname(target), { recursive: true, mode: 0o755 });
      await writeFile(target, '', { mode: 0o644 });
    } else {
      await mkdir(target, { recursive: true, mode: 0o755 });
    }
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function pathKind(path: string): 'symlink' | 'dir' | 'other' | 'none' {
  try {
    const st = lstatSync(path);
    return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'other';
  } catch {
    return 'none';
  }
}
