import type { CodeRef } from '../codestore/index.js';

/** Runtimes this installation can run. */
export const SUPPORTED_RUNTIMES = ['nodejs20.x', 'python3.11', 'provided.al2023', 'provided.al2'] as const;
export type RuntimeId = (typeof SUPPORTED_RUNTIMES)[number];

export function isSupportedRuntime(value: string): value is RuntimeId {
  return (SUPPORTED_RUNTIMES as readonly string[]).includes(value);
}

/** A function's mutable ($LATEST) definition, as stored in the journal. */
export interface FunctionRecord {
  name: string;
  runtime: RuntimeId;
  role: string;
  handler: string;
  description: string;
  timeoutSec: number;
  memoryMb: number;
  ephemeralStorageMb: number;
  environment: Record<string, string>;
  code: CodeRef;
  lastModifiedMs: number;
  revisionId: string;
  /** Resource tags; `stratus:network=outbound` gives the function's sandboxes outbound network. */
  tags?: Record<string, string>;
}

/** An invocable version of a function: what assignment and workers are given. */
export interface FunctionVersion extends FunctionRecord {
  version: string;
  /** Unqualified function ARN. */
  functionArn: string;
}

/** Environments are never shared across code or configuration changes, or across versions. */
export function environmentKey(fn: FunctionVersion): string {
  return `${fn.name}:${fn.version}:${fn.revisionId}`;
}
