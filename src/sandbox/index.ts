export type { Sandbox, SandboxDriver, SandboxExit, SandboxSpec } from './driver.js';
export { BubblewrapSandboxDriver, type BubblewrapOptions } from './bubblewrap-driver.js';
