import type { AppendLog, Leadership } from '../journal/index.js';
import type { Clock } from '../shared/clock.js';
import { isStratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { EnvironmentTable, type AssignmentLogEntry, type CreatedEntry, type EnvironmentEntry } from './environments.js';

export interface AssignmentLogWriterDeps {
  log: AppendLog;
  clock: Clock;
  logger: Logger;
  /** The leadership whose epoch fences every write (a cluster replica); none on one machine. */
  leadership?: Leadership;
  /** Appends between two snapshots of the table (log compaction). */
  compactEvery?: number;
  /** The environments alive now: the snapshot a compaction writes. */
  live(): Iterable<EnvironmentEntry>;
}

/**
 * Writes the assignment log: `created` when an environment is created, `destroyed` when it goes,
 * nothing on the warm path. Every `compactEvery` appends it snapshots the table and compacts.
 */
export class AssignmentLogWriter {
  private appendsSinceSnapshot = 0;
  private compacting = false;

  constructor(private readonly deps: AssignmentLogWriterDeps) {}

  /**
   * One machine: the worker restarted with this process, so every environment the log lists is
   * gone; the log is compacted to an empty table. On a disk too full for even that, Stratus starts
   * all the same (nothing on one machine reads those entries back but this; the next start
   * compacts them).
   */
  async closePreviousRun(): Promise<void> {
    const table = new EnvironmentTable();
    await table.catchUp(this.deps.log);
    if (table.seq === 0) return;
    await this.deps.log.compact({ seq: table.seq, state: [] }).catch((err: unknown) => {
      if (!isStratusError(err) || err.code !== 'DiskFull') throw err;
      this.deps.logger.warn({ err }, 'the assignment log of the previous run could not be compacted: the data disk is full');
    });
  }

  async created(env: EnvironmentEntry): Promise<void> {
    await this.append(createdEntry(env, this.deps.clock.now()));
  }

  async destroyed(envId: string, reason: string): Promise<void> {
    await this.append({ type: 'destroyed', envId, atMs: this.deps.clock.now(), reason });
  }

  /** Appends under the leadership's fence; every so often, snapshots the table and compacts. */
  private async append(entry: AssignmentLogEntry): Promise<void> {
    const seq = await this.deps.log.append(entry, this.deps.leadership);
    if (++this.appendsSinceSnapshot < (this.deps.compactEvery ?? 1000) || this.compacting) return;
    this.appendsSinceSnapshot = 0;
    this.compacting = true;
    const now = this.deps.clock.now();
    const state = [...this.deps.live()].map((env) => createdEntry(env, now));
    await this.deps.log.compact({ seq, state }, this.deps.leadership)
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'compacting the assignment log failed'))
      .finally(() => { this.compacting = false; });
  }
}

function createdEntry(env: EnvironmentEntry, atMs: number): CreatedEntry {
  return {
    type: 'created', envId: env.id, key: env.key, functionArn: env.functionArn, version: env.version,
    workerId: env.workerId, memoryMb: env.memoryMb, provisioned: env.provisioned, atMs,
  };
}
