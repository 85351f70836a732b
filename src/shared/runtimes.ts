/**
 * The runtimes of zip functions this installation runs: the registry accepts exactly these and
 * the worker has a launch recipe for each (`worker/launch/zip.ts`).
 */
export const RUNTIMES = ['nodejs20.x', 'python3.11', 'java17', 'provided.al2023', 'provided.al2'] as const;
export type RuntimeId = (typeof RUNTIMES)[number];

export function isRuntimeId(value: string): value is RuntimeId {
  return (RUNTIMES as readonly string[]).includes(value);
}
