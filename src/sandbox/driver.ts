import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** Where stratus-init (native/stratus-init.c) and its directory are inside every sandbox. */
export const SANDBOX_INIT_DIR = '/var/rapid';
export const SANDBOX_INIT = `${SANDBOX_INIT_DIR}/stratus-init`;
/** The host directory holding the built stratus-init, bound at SANDBOX_INIT_DIR. */
export const NATIVE_DIR = fileURLToPath(new URL('../../native/', import.meta.url));

/**
 * The seam between the worker and an execution environment's isolation mechanism.
 * Default: BubblewrapSandboxDriver (Linux namespaces). Later: microVMs, CRIU restore.
 *
 * The layout a sandbox sees is a plain, describable set of mounts (so a snapshot can be
 * restored onto a skeleton root later):
 *   /var/task     read-only   the function's files (taskDir)
 *   /opt          read-only   layers (optDir, optional)
 *   /var/runtime  read-only   the runtime client (runtimeDir, optional)
 *   /var/rapid    read-only   stratus-init, the sandbox's pid 1 (via binds)
 *   /run/stratus  read-only   this sandbox's Runtime API socket (controlDir)
 *   /tmp          tmpfs       writable, tmpSizeMb
 *   /usr, /etc (a minimal subset), /proc, /dev
 *
 * A container-image function (rootDir set) instead gets its image, read-only, as `/`, with
 * only /tmp, /proc, /dev, /var/rapid and /run/stratus mounted over it (taskDir, optDir and
 * runtimeDir are not bound: the image has its own).
 */
export interface SandboxSpec {
  id: string;
  taskDir: string;
  /** The root filesystem (a mounted image), bound read-only at `/`. */
  rootDir?: string;
  /** Working directory inside the sandbox (default /var/task). */
  workingDir?: string;
  optDir?: string;
  runtimeDir?: string;
  controlDir: string;
  /** Further host directories bound read-only (e.g. the sandbox init at /var/rapid). */
  binds?: { source: string; target: string }[];
  /**
   * Program and arguments as seen inside the sandbox, usually stratus-init relaying the Runtime
   * API and then the runtime (see worker/launch/). The bubblewrap driver always runs
   * stratus-init as pid 1: a command that does not start with it is wrapped in it.
   */
  command: string[];
  /** The runtime's environment: applied inside the sandbox only, never to a host-side process. */
  env: Record<string, string>;
  memoryMb: number;
  tmpSizeMb: number;
  /**
   * 'none': the sandbox's network namespace has only `lo` (the default).
   * 'outbound': it also gets a user-mode route out through the host (no inbound, no host loopback).
   */
  network: 'none' | 'outbound';
  /**
   * A sandbox CRIU can checkpoint (SnapStart): a user namespace mapping uid 0, stdio opened
   * inside through a FIFO in controlDir, the init's `--checkpoint` mode. See docs/snapstart.md.
   */
  checkpointable?: boolean;
}

export interface SandboxExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The kernel killed a process of the sandbox for exceeding its memory limit. */
  oomKilled: boolean;
}

export interface Sandbox {
  readonly id: string;
  /** Host pid of the sandbox's pid 1 (the runtime). */
  readonly pid: number;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** Settles when the sandbox's process tree has gone, for whatever reason. */
  readonly exited: Promise<SandboxExit>;
  /** Peak resident memory of the sandbox so far, in bytes (0 if unknown). */
  peakMemoryBytes(): number;
  /**
   * Stops every process of the sandbox (Lambda freezes an idle environment: no CPU, no output)
   * and settles once they are stopped; thaw() lets them go on. Both are idempotent.
   */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Kills the whole process tree and releases everything the sandbox held. Idempotent. */
  destroy(): Promise<void>;
}

export interface SandboxDriver {
  readonly name: string;
  create(spec: SandboxSpec): Promise<Sandbox>;
  /** Checkpoint and restore of sandboxes, when the driver offers it (SnapStart). */
  readonly snapshots?: SnapshotDriver;
}

/** What a snapshot of an image's sandbox is bound to: the image's manifest digest (recorded on checkpoint, checked on restore). */
export interface SnapshotOptions {
  rootDigest?: string;
}

/** A checkpointed sandbox, as a directory of images on this host. */
export interface SnapshotImage {
  dir: string;
}

export interface SnapshotDriver {
  /** Why snapshots cannot work on this host, or undefined when they can. */
  unavailableReason(): Promise<string | undefined>;
  /** Dumps a checkpointable sandbox's process tree into `dir` (created); the sandbox ends. */
  checkpoint(sandbox: Sandbox, spec: SandboxSpec, dir: string, opts?: SnapshotOptions & { signal?: AbortSignal }): Promise<SnapshotImage>;
  /**
   * Starts a clone of `image` in a fresh sandbox: own namespaces, own cgroups with spec's limits.
   * `paused`: the clone is restored but its init keeps holding the runtime's first request, and
   * the sandbox is frozen, until `resume` (a pre-restored clone, see worker/snapstart-clones.ts).
   */
  restore(spec: SandboxSpec, image: SnapshotImage, opts?: SnapshotOptions & { paused?: boolean }): Promise<Sandbox>;
  /** Lets a paused clone go on: its init forwards the held request to the Runtime API in spec's control directory. */
  resume(sandbox: Sandbox, spec: Pick<SandboxSpec, 'controlDir'>): Promise<void>;
}
