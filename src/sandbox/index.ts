export type { Sandbox, SandboxDriver, SandboxExit, SandboxSpec, SnapshotDriver, SnapshotImage } from './driver.js';
export { NATIVE_DIR, SANDBOX_INIT, SANDBOX_INIT_DIR } from './driver.js';
export { CriuSnapshots, type CriuOptions } from './criu.js';
export { BubblewrapSandboxDriver, type BubblewrapOptions } from './bubblewrap-driver.js';
export { loadSeccompFilter, type SeccompFilter } from './seccomp.js';
export { detectCgroups, type CgroupLimits, type CgroupManager, type SandboxCgroup } from './cgroups.js';
export { GvisorSandboxDriver, type GvisorOptions } from './gvisor-driver.js';
