export type { Sandbox, SandboxDriver, SandboxExit, SandboxSpec } from './driver.js';
export { BubblewrapSandboxDriver, type BubblewrapOptions } from './bubblewrap-driver.js';
export { detectCgroups, type CgroupLimits, type CgroupManager, type SandboxCgroup } from './cgroups.js';
