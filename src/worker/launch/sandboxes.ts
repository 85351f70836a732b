import type { Clock } from '../../shared/clock.js';
import { StratusError } from '../../shared/errors.js';
import type { SandboxDriver, SandboxSpec } from '../../sandbox/index.js';
import type { EnvironmentSpec } from '../environment-spec.js';
import type { LaunchContext, RuntimeFiles, RuntimeLaunch } from './common.js';
import { logStreamName } from '../log-shipper.js';
import { imageLaunch } from './image.js';
import { runtimeLaunch, zipLaunch, type BareRuntime } from './zip.js';

/** How `spec`'s function starts in its sandbox: its runtime's recipe (zip) or its image's settings. */
function launchFor(spec: EnvironmentSpec, ctx: LaunchContext): RuntimeLaunch {
  return spec.package.type === 'Image' ? imageLaunch(spec, spec.package, ctx) : zipLaunch(spec, spec.package, ctx);
}

export type InitType = LaunchContext['initType'];

export interface SandboxLauncherDeps {
  region: string;
  nodePath: string;
  pythonPath: string;
  /** The runtime clients and stratus-init in the run directory. */
  files: RuntimeFiles;
  clock: Clock;
  /** The installation's sandbox driver. */
  driver: SandboxDriver;
  /** The gVisor driver, for functions that ask for it (absent: this worker has none). */
  gvisorDriver?: SandboxDriver;
}

/** A sandbox's files: the code at /var/task, its layers at /opt, and an image's root filesystem. */
export interface SandboxFiles {
  taskDir: string;
  optDir?: string;
  rootDir?: string;
}

/** Turns what an environment needs into what a sandbox driver is given, and picks the driver. */
export class SandboxLauncher {
  constructor(private readonly deps: SandboxLauncherDeps) {}

  /**
   * The installation's driver, or gVisor for a function that asks for it (tag
   * stratus:sandbox=gvisor): a function can only ask for the stronger sandbox, never leave the
   * one the installation chose.
   */
  driverFor(spec: EnvironmentSpec): SandboxDriver | undefined {
    return spec.sandboxDriver === 'gvisor' ? this.deps.gvisorDriver : this.deps.driver;
  }

  /** The installation's own driver (warm-pool stems run only there). */
  get defaultDriver(): SandboxDriver {
    return this.deps.driver;
  }

  requireDriver(spec: EnvironmentSpec): SandboxDriver {
    const driver = this.driverFor(spec);
    if (!driver) throw new StratusError('SandboxCreateFailed', `Function ${spec.functionName} is tagged stratus:sandbox=gvisor, but this worker has no gVisor (runsc) driver`);
    return driver;
  }

  sandboxSpec(id: string, spec: EnvironmentSpec, initType: InitType, controlDir: string, files: SandboxFiles): SandboxSpec {
    const launch = launchFor(spec, this.context(id, spec.version, initType));
    return {
      id,
      ...files,
      workingDir: launch.workingDir,
      runtimeDir: launch.runtimeDir,
      binds: launch.binds,
      controlDir,
      command: launch.command,
      env: launch.env,
      memoryMb: spec.memoryMb,
      tmpSizeMb: spec.ephemeralStorageMb,
      network: spec.network,
      checkpointable: initType === 'snap-start',
    };
  }

  /** A warm-pool stem: the runtime alone, into an empty /var/task, waiting to be told its function. */
  stemSpec(id: string, bare: BareRuntime, controlDir: string, taskDir: string): SandboxSpec {
    const launch = runtimeLaunch(bare, this.context(id, '$LATEST', 'on-demand'));
    return {
      id,
      taskDir,
      runtimeDir: launch.runtimeDir,
      binds: launch.binds,
      controlDir,
      command: launch.command,
      env: { ...launch.env, STRATUS_WARM_POOL: '1' },
      memoryMb: bare.memoryMb,
      tmpSizeMb: 512,
      network: 'none',
      checkpointable: false,
    };
  }

  /** The environment variables `spec`'s runtime gets (what a warm-pool stem is handed). */
  variables(id: string, spec: EnvironmentSpec, initType: InitType): Record<string, string> {
    return launchFor(spec, this.context(id, spec.version, initType)).env;
  }

  private context(id: string, version: string, initType: InitType): LaunchContext {
    return {
      region: this.deps.region,
      files: this.deps.files,
      nodePath: this.deps.nodePath,
      pythonPath: this.deps.pythonPath,
      runtimeApiHost: '127.0.0.1',
      runtimeApiPort: 9001,
      runtimeApiSocket: '/run/stratus/runtime.sock',
      logStreamName: logStreamName(this.deps.clock.now(), version, id),
      initType,
    };
  }
}
