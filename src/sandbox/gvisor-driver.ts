import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { StratusError } from '../shared/errors.js';
import { ETC_FILES, killQuietly, LAUNCHER_ENV, spawnInCgroups, type CgroupedChild } from './bubblewrap-driver.js';
import type { CgroupManager } from './cgroups.js';
import type { Sandbox, SandboxDriver, SandboxExit, SandboxSpec } from './driver.js';
import { writeBundle } from './gvisor-bundle.js';

export interface GvisorOptions {
  runscPath: string;
  uid: number;
  gid: number;
  cgroups: CgroupManager;
  /** CPU cap floor in cores; Lambda's proportion is memoryMb / 1769. */
  minCpuCores: number;
  pidsMax: number;
  /**
   * Where this worker keeps runsc's state and the sandboxes' bundles: `<root>/stratus-<pid>`.
   * Directories of dead workers under `root` are removed by cleanup().
   */
  root: string;
  /** Added to a sandbox's memory limit for gVisor's own processes (sentry, gofer): ~21 MB of cgroup charge measured. */
  memoryAllowanceMb: number;
  /** Extra host paths bound read-only at the same place (e.g. a runtime binary outside /usr). */
  extraReadOnlyPaths?: string[];
}

/**
 * util-linux's setpriv gives runsc a parent-death signal (as bwrap's --die-with-parent): if the
 * worker dies, runsc dies, and the sentry and gofer die with runsc.
 */
const SETPRIV = '/usr/bin/setpriv';
/** How long `runsc delete` and friends may take before the sandbox is killed by pid. */
const RUNSC_CALL_MS = 10_000;
/** How long runsc run gets to tear its sandbox down after the container was killed. */
const DESTROY_GRACE_MS = 3000;

/**
 * Sandboxes in gVisor (runsc, ptrace platform): the function talks to gVisor's kernel (the
 * sentry), not the host's. Each runs in Stratus's own per-sandbox cgroups (spawnInCgroups,
 * `--ignore-cgroups`), so runsc, the sentry, the gofer and the app are all accounted and
 * limited together, and an OOM is seen the same way as in a bubblewrap sandbox.
 */
export class GvisorSandboxDriver implements SandboxDriver {
  readonly name = 'gvisor';
  private readonly dir: string;

  constructor(private readonly opts: GvisorOptions) {
    this.dir = join(opts.root, `stratus-${process.pid}`);
  }

  private get stateDir(): string {
    return join(this.dir, 'state');
  }

  async create(spec: SandboxSpec): Promise<Sandbox> {
    if (spec.checkpointable) throw new StratusError('SandboxCreateFailed', 'The gvisor sandbox driver cannot checkpoint (no SnapStart)');
    if (spec.network !== 'none') throw new StratusError('SandboxCreateFailed', 'The gvisor sandbox driver has no outbound network (tag stratus:network=outbound needs the bubblewrap driver)');
    const bundle = join(this.dir, 'bundles', spec.id);
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    let started: CgroupedChild | undefined;
    try {
      await writeBundle(bundle, spec, { uid: this.opts.uid, gid: this.opts.gid, etcFiles: ETC_FILES, extraReadOnlyPaths: this.opts.extraReadOnlyPaths ?? [] });
      const args = [
        `--root=${this.stateDir}`, '--network=none', '--platform=ptrace', '--host-uds=open', '--ignore-cgroups', '--oci-seccomp',
        'run', '--bundle', bundle, spec.id,
      ];
      const [file, argv] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'KILL', '--', this.opts.runscPath, ...args]] : [this.opts.runscPath, args];
      started = await spawnInCgroups(this.opts, spec, file, argv, 3, () => {}, { memoryAllowanceMb: this.opts.memoryAllowanceMb });
    } catch (cause) {
      await rm(bundle, { recursive: true, force: true });
      throw new StratusError('SandboxCreateFailed', `Could not start sandbox ${spec.id}: ${String(cause)}`, { cause });
    }
    const { child } = started;
    // After runsc itself has gone: whatever of the sandbox is left (a killed runsc leaves the sentry), its state, its bundle.
    const exited = started.exited.then(async (exit) => {
      await this.runsc(['delete', '-force', spec.id]).catch(() => {});
      await rm(bundle, { recursive: true, force: true });
      return exit;
    });
    return new GvisorSandbox(spec.id, child.pid ?? 0, started, exited, () => this.runsc(['kill', '--all', spec.id, 'KILL']));
  }

  /** Removes this worker's runsc state and bundles, and those of dead workers (killed, never stopped). */
  async cleanup(): Promise<void> {
    for (const name of await readdir(this.opts.root).catch(() => [] as string[])) {
      const pid = /^stratus-(\d+)$/.exec(name)?.[1];
      if (!pid || (Number(pid) !== process.pid && existsSync(`/proc/${pid}`))) continue;
      const dir = join(this.opts.root, name);
      const state = join(dir, 'state');
      for (const id of await readdir(state).catch(() => [] as string[])) {
        if (/^[\w.-]+$/.test(id) && !id.endsWith('.lock')) await runsc(this.opts.runscPath, state, ['delete', '-force', id]).catch(() => {});
      }
      await rm(dir, { recursive: true, force: true });
    }
  }

  private runsc(args: string[]): Promise<void> {
    return runsc(this.opts.runscPath, this.stateDir, args);
  }
}

function runsc(path: string, stateDir: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(path, [`--root=${stateDir}`, ...args], { env: LAUNCHER_ENV, timeout: RUNSC_CALL_MS }, (err, _stdout, stderr) =>
      err ? reject(new Error(`runsc ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(),
    );
  });
}

class GvisorSandbox implements Sandbox {
  readonly stdout: Readable;
  readonly stderr: Readable;
  private destroying: Promise<void> | undefined;
  private gone = false;

  constructor(
    readonly id: string,
    /** runsc's pid (the function's processes live inside the sentry: they have no host pid). */
    readonly pid: number,
    /** The cgroups every gVisor process of this sandbox runs in (limits, OOM, freezer). */
    readonly cgrouped: CgroupedChild,
    readonly exited: Promise<SandboxExit>,
    private readonly killAll: () => Promise<void>,
  ) {
    const { child } = cgrouped;
    if (!child.stdout || !child.stderr) throw new Error('sandbox stdio missing');
    this.stdout = child.stdout;
    this.stderr = child.stderr;
    void exited.then(() => (this.gone = true));
  }

  peakMemoryBytes(): number {
    return this.cgrouped.peak();
  }

  /** The cgroup freezer stops every gVisor process of the sandbox: runsc, gofer, sentry and stubs. */
  freeze(): Promise<void> {
    return this.cgrouped.cgroup.freeze();
  }

  thaw(): Promise<void> {
    return this.cgrouped.cgroup.thaw();
  }

  /**
   * `runsc kill --all` ends every process of the container; runsc run then tears the sandbox
   * down (sentry, gofer) and exits. Should it not within a grace period, runsc is killed by pid
   * and `runsc delete -force` (in `exited`) removes what is left.
   */
  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      if (!this.gone) {
        // runsc kill talks to the sentry, which must be running (a frozen process does not even die of SIGKILL).
        await this.thaw().catch(() => {});
        await this.killAll().catch(() => {});
        const ended = await Promise.race([this.exited.then(() => true), sleep(DESTROY_GRACE_MS, undefined, { ref: false }).then(() => false)]);
        if (!ended) killQuietly(this.pid);
      }
      await this.exited;
    })();
    return this.destroying;
  }
}
