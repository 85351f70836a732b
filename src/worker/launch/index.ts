export { RUNTIME_SOURCES, type LaunchContext, type RuntimeFiles, type RuntimeLaunch } from './common.js';
export { runtimeLaunch, type BareRuntime } from './zip.js';
export { SandboxLauncher, type InitType, type SandboxFiles } from './sandboxes.js';
