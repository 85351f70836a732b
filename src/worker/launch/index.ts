export { RUNTIME_SOURCES, SANDBOX_HOSTS, type LaunchContext, type RuntimeFiles, type RuntimeLaunch } from './common.js';
export { runtimeLaunch, type BareRuntime } from './zip.js';
export { SandboxLauncher, type InitType, type SandboxFiles } from './sandboxes.js';
