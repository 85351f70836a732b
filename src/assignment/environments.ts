/** The assignment service's table of execution environments, with typed lifecycle states. */
export type EnvironmentState =
  | { kind: 'initializing' }
  | { kind: 'busy' }
  | { kind: 'idle'; sinceMs: number }
  | { kind: 'dead' };

export interface EnvironmentEntry {
  id: string;
  /** environmentKey(fn): function, version and revision it belongs to. */
  key: string;
  functionName: string;
  /** "$LATEST" or a published version. */
  version: string;
  workerId: string;
  memoryMb: number;
  state: EnvironmentState;
  /** Set when the function changed: the environment is destroyed instead of going idle. */
  retired: boolean;
  /** Kept initialized ahead of traffic (provisioned concurrency): never reaped or evicted. */
  provisioned: boolean;
}

/** The journal's assignment log entries. */
export type AssignmentLogEntry =
  | { type: 'created'; envId: string; key: string; workerId: string; memoryMb: number; atMs: number }
  | { type: 'destroyed'; envId: string; atMs: number; reason: string };

/** Replays log entries into the set of environments that were alive at the end of the log. */
export function liveEnvironments(entries: readonly AssignmentLogEntry[]): Map<string, AssignmentLogEntry & { type: 'created' }> {
  const live = new Map<string, AssignmentLogEntry & { type: 'created' }>();
  for (const e of entries) {
    if (e.type === 'created') live.set(e.envId, e);
    else live.delete(e.envId);
  }
  return live;
}
