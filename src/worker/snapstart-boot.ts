import { randomUUID } from 'node:crypto';
import type { CodeRef } from '../codestore/index.js';
import type { Clock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { Sandbox } from '../sandbox/index.js';
import type { BootGate } from './boot-gate.js';
import { Leases } from './cache-leases.js';
import { functionFiles, type TaskFiles } from './code-cache.js';
import type { EnvironmentSpec } from './environment-spec.js';
import type { SandboxLauncher } from './launch/index.js';
import { makeControlDir, removeDir, runtimeApiIn, serveRuntimeApi, type Slot } from './slots.js';
import { packSnapshot, SnapshotBoot, writeSnapshotOwner, type SnapshotCache } from './snapshots.js';
import { destroyClone, SnapStartClones, type PreRestored } from './snapstart-clones.js';

export interface SnapStartBootDeps {
  launcher: SandboxLauncher;
  /** SnapStart snapshots unpacked on this worker (absent: this worker makes and restores none). */
  snapshotCache?: SnapshotCache;
  taskFiles: TaskFiles;
  /** The run directory's path (control directories). */
  runRoot: string;
  clock: Clock;
  log: Logger;
  initTimeoutMs: number;
  /** Pre-restored clones kept per version once it has been restored (0: none; default 1). */
  clonesPerVersion?: number;
  /** The worker's memory not reserved by anything (its environments, stems and these clones). */
  freeMb(): number;
  /** The worker's boot gate: a pre-restore waits its turn like a boot. */
  bootGate: BootGate;
}

/** A version's pre-restored clones are destroyed after this long without a cold start taking one. */
const CLONE_IDLE_MS = 10 * 60_000;
/** At most this many versions keep pre-restored clones on a worker (one account at most half of them). */
const CLONE_VERSIONS = 8;
/** The next clone is restored this long after a cold start, so its criu does not compete with that start. */
const REFILL_DELAY_MS = 100;

/** SnapStart on a worker: a version's snapshot made on publish, and clones restored from it. */
export class SnapStartBoots {
  private readonly clones: SnapStartClones;

  constructor(private readonly deps: SnapStartBootDeps) {
    this.clones = new SnapStartClones({
      perVersion: deps.clonesPerVersion ?? 1, idleMs: CLONE_IDLE_MS, maxVersions: CLONE_VERSIONS, clock: deps.clock, log: deps.log,
      freeMb: deps.freeMb,
      restore: (spec, image) => this.preRestore(spec, image),
    });
  }

  /** The snapshot a cold start of `spec` restores from (none: it boots). */
  snapshotFor(spec: EnvironmentSpec): CodeRef | undefined {
    // A snapshot's sandbox has no outbound network: a function tagged for it since boots instead.
    if (!spec.snapshot || spec.network !== 'none') return undefined;
    return this.deps.snapshotCache && this.deps.launcher.driverFor(spec)?.snapshots ? spec.snapshot : undefined;
  }

  /**
   * A pre-restored clone of exactly `spec`, if one is ready: the caller opens the environment's
   * slot on its control directory and passes it to `restore`.
   */
  takeClone(spec: EnvironmentSpec): PreRestored | undefined {
    return this.clones.take(spec);
  }

  /**
   * Restores a clone of `image` into the slot's fresh sandbox (the slot's Environment is attached
   * to it), or lets `clone` (taken by `takeClone`, the slot opened on its control directory) go
   * on. Either way the runtime reseeds and runs its after-restore hooks now, and the version's
   * pre-restored clones are topped up afterwards.
   */
  async restore(slot: Slot, spec: EnvironmentSpec, image: CodeRef, startedAt: number, clone?: PreRestored): Promise<void> {
    const snapshots = this.deps.launcher.driverFor(spec)?.snapshots;
    const cache = this.deps.snapshotCache;
    if (!snapshots || !cache) {
      await destroyClone(clone);
      throw new StratusError('SnapshotFailed', 'no snapshot support');
    }
    if (clone) {
      slot.leases.hold(() => clone.leases.releaseAll());
      slot.env.attach(clone.sandbox, startedAt);
      await snapshots.resume(clone.sandbox, slot);
    } else {
      const [imageDir, files] = await Promise.all([cache.resolve(spec, image, slot.leases), functionFiles(this.deps.taskFiles, spec, slot.leases)]);
      const sandboxSpec = this.deps.launcher.sandboxSpec(slot.id, spec, 'snap-start', slot.controlDir, files);
      // The clone keeps the environment of its snapshot (criu itself runs with the launchers' fixed one).
      slot.env.attach(await snapshots.restore(sandboxSpec, { dir: imageDir }, rootOf(spec)), startedAt);
    }
    this.deps.log.debug({ envId: slot.id, fn: spec.functionName, preRestored: clone !== undefined }, 'sandbox restored');
    this.deps.clock.setTimer(REFILL_DELAY_MS, () => this.clones.refill(spec, image));
  }

  /**
   * Drops pre-restored clones (least recently used first) until a new environment of `spec` fits
   * in `freeMb`; none when a clone of `spec` is ready (it becomes that environment).
   */
  makeRoom(spec: EnvironmentSpec, freeMb: number): void {
    this.clones.makeRoom(spec, freeMb);
  }

  /** A paused clone in a control directory of its own (see SnapStartClones), restored through the boot gate. */
  private async preRestore(spec: EnvironmentSpec, image: CodeRef): Promise<PreRestored> {
    const snapshots = this.deps.launcher.driverFor(spec)?.snapshots;
    const cache = this.deps.snapshotCache;
    if (!snapshots || !cache) throw new StratusError('SnapshotFailed', 'no snapshot support');
    const restored = await this.deps.bootGate.enter();
    const id = randomUUID();
    const leases = new Leases();
    let controlDir: string | undefined;
    try {
      controlDir = await makeControlDir(this.deps.runRoot, id);
      const [imageDir, files] = await Promise.all([cache.resolve(spec, image, leases), functionFiles(this.deps.taskFiles, spec, leases)]);
      const sandboxSpec = this.deps.launcher.sandboxSpec(id, spec, 'snap-start', controlDir, files);
      const sandbox = await snapshots.restore(sandboxSpec, { dir: imageDir }, { ...rootOf(spec), paused: true });
      return { controlDir, sandbox, leases, memoryMb: spec.memoryMb };
    } catch (err) {
      leases.releaseAll();
      if (controlDir) await removeDir(controlDir);
      throw err;
    } finally {
      restored();
    }
  }

  /** Memory of the pre-restored clones (restored or being restored). */
  clonesReservedMb(): number {
    return this.clones.reservedMb();
  }

  /** Destroys the pre-restored clones. */
  close(): Promise<void> {
    return this.clones.close();
  }

  /**
   * SnapStart on publish: boots `spec` in a checkpointable sandbox, runs its initialization and
   * checkpoints it when the runtime first asks for work. Returns the snapshot as a tar for the
   * code store (this worker keeps it unpacked); rejects with SnapshotFailed and the reason.
   * `signal` (the control plane gave up): the boot or dump stops, and nothing of it is left.
   */
  async createSnapshot(spec: EnvironmentSpec, opts: { signal?: AbortSignal } = {}): Promise<{ tar: Buffer; sha256: string }> {
    const { signal } = opts;
    signal?.throwIfAborted();
    const driver = this.deps.launcher.requireDriver(spec);
    const snapshots = driver.snapshots;
    const cache = this.deps.snapshotCache;
    const unavailable = snapshots && cache ? await snapshots.unavailableReason() : `Sandboxes of the ${driver.name} driver cannot be checkpointed`;
    if (unavailable || !snapshots || !cache) throw new StratusError('SnapshotFailed', unavailable ?? 'no snapshot support');
    if (spec.network === 'outbound') throw new StratusError('SnapshotFailed', 'A sandbox with outbound network (tag stratus:network=outbound) cannot be checkpointed');
    const id = randomUUID();
    const controlDir = await makeControlDir(this.deps.runRoot, id);
    const boot = new SnapshotBoot();
    const api = runtimeApiIn(controlDir, boot);
    const dir = await cache.scratch();
    const held = new Leases();
    let sandbox: Sandbox | undefined;
    const stop = () => boot.fail(`The snapshot was abandoned: ${String(signal?.reason)}`, 'platform');
    signal?.addEventListener('abort', stop, { once: true });
    try {
      await serveRuntimeApi(api, controlDir);
      const sandboxSpec = this.deps.launcher.sandboxSpec(id, spec, 'snap-start', controlDir, await functionFiles(this.deps.taskFiles, spec, held));
      sandbox = await driver.create(sandboxSpec);
      const output: string[] = [];
      sandbox.stdout.on('data', (d: Buffer) => output.push(d.toString()));
      void sandbox.exited.then((e) => boot.fail(`The runtime exited during initialization (${e.code ?? e.signal})${output.length ? `: ${output.join('').slice(-512)}` : ''}`));
      const timer = this.deps.clock.setTimer(this.deps.initTimeoutMs, () => boot.fail('The function initialization timed out'));
      await boot.ready.finally(() => timer.cancel());
      signal?.throwIfAborted();
      await snapshots.checkpoint(sandbox, sandboxSpec, dir, { ...rootOf(spec), ...(signal ? { signal } : {}) });
      signal?.throwIfAborted();
      await writeSnapshotOwner(dir, spec);
      const packed = await packSnapshot(dir);
      await cache.adopt(dir, spec.accountId, packed.sha256);
      return packed;
    } catch (err) {
      await removeDir(dir);
      throw err;
    } finally {
      signal?.removeEventListener('abort', stop);
      await sandbox?.destroy();
      held.releaseAll();
      await api.close();
      await removeDir(controlDir);
    }
  }
}

/** What a snapshot of `spec` is bound to: an image function's image digest. */
function rootOf(spec: EnvironmentSpec): { rootDigest?: string } {
  return spec.package.type === 'Image' ? { rootDigest: spec.package.digest } : {};
}
