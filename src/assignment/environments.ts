import type { AppendLog } from '../journal/index.js';

/** The assignment service's table of execution environments, with typed lifecycle states. */
export type EnvironmentState =
  | { kind: 'initializing' }
  | { kind: 'busy' }
  /** Idle since `sinceMs`; reclaimed at `untilMs` (the keep-alive policy's window; absent: after keepAliveMs). */
  | { kind: 'idle'; sinceMs: number; untilMs?: number }
  | { kind: 'dead' };

export interface EnvironmentEntry {
  id: string;
  /** environmentKey(fn): function, version and revision it belongs to. */
  key: string;
  /** The function's unqualified ARN: unique across accounts. */
  functionArn: string;
  /** "$LATEST" or a published version. */
  version: string;
  workerId: string;
  memoryMb: number;
  state: EnvironmentState;
  /** Set when the function changed: the environment is destroyed instead of going idle. */
  retired: boolean;
  /** Kept initialized ahead of traffic (provisioned concurrency): never reaped or evicted. */
  provisioned: boolean;
  /** When it was created (for a taken-over one, when its creation was journaled). */
  createdAtMs?: number;
  /** While busy: ends the invocation's count against the concurrency limits. */
  leave?: () => void;
  /** Found busy by a takeover: its release may come late (see TakeoverGrace in takeover.ts). */
  adoptedBusy?: boolean;
  /** The grant holding it (busy or initializing for a lease); only that lease's release frees it. */
  grant?: string;
  /** Booted ahead of traffic (provisioned, pre-warmed) and not yet idle: how long it is then kept. */
  aheadKeepMs?: number;
}

/** The journal's assignment log entries. */
export type AssignmentLogEntry =
  | CreatedEntry
  | { type: 'destroyed'; envId: string; atMs: number; reason: string };

export interface CreatedEntry {
  type: 'created';
  envId: string;
  key: string;
  functionArn: string;
  version: string;
  workerId: string;
  memoryMb: number;
  provisioned: boolean;
  atMs: number;
}

/**
 * An entry written before functions had accounts names no function ARN: its environment is left
 * out of the table, so its worker is told to destroy it (an unknown environment) at the takeover.
 */
function ownerKnown(entry: CreatedEntry): boolean {
  return typeof entry.functionArn === 'string';
}

/**
 * The environments the assignment log says are alive: a snapshot plus the entries after it.
 * Followers keep one up to date by tailing the log, so a new leader starts from memory.
 */
export class EnvironmentTable {
  readonly live = new Map<string, CreatedEntry>();
  /** The last log sequence number applied. */
  seq = 0;

  apply(seq: number, entry: AssignmentLogEntry): void {
    if (entry.type === 'created' && ownerKnown(entry)) this.live.set(entry.envId, entry);
    else this.live.delete(entry.envId);
    this.seq = Math.max(this.seq, seq);
  }

  /** Reads what is new in the log (restarting from the snapshot if the log was compacted past us). */
  async catchUp(log: AppendLog, pageSize = 1000): Promise<void> {
    let page = await log.readAfter(this.seq, pageSize);
    if (page.length === 0 || (page[0] && page[0].seq > this.seq + 1)) {
      const snapshot = await log.readSnapshot();
      if (snapshot && snapshot.seq > this.seq) {
        this.live.clear();
        for (const entry of snapshot.state as CreatedEntry[]) if (ownerKnown(entry)) this.live.set(entry.envId, entry);
        this.seq = snapshot.seq;
        page = await log.readAfter(this.seq, pageSize);
      }
    }
    while (page.length > 0) {
      for (const { seq, entry } of page) this.apply(seq, entry as AssignmentLogEntry);
      if (page.length < pageSize) break;
      page = await log.readAfter(this.seq, pageSize);
    }
  }
}
