import type { EnvironmentSpec } from '../environment-spec.js';
import type { LaunchContext, RuntimeLaunch } from './common.js';
import { imageLaunch } from './image.js';
import { zipLaunch } from './zip.js';

export { RUNTIME_SOURCES, type LaunchContext, type RuntimeFiles, type RuntimeLaunch } from './common.js';
export { runtimeLaunch, type BareRuntime } from './zip.js';

/** How `spec`'s function starts in its sandbox: its runtime's recipe (zip) or its image's settings. */
export function launchFor(spec: EnvironmentSpec, ctx: LaunchContext): RuntimeLaunch {
  return spec.package.type === 'Image' ? imageLaunch(spec, spec.package, ctx) : zipLaunch(spec, spec.package, ctx);
}
