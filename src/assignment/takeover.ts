import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/log.js';
import type { WorkerAgent } from '../worker/index.js';
import type { CreatedEntry, EnvironmentEntry, EnvironmentTable } from './environments.js';

/** What became of an environment the log lists: its worker runs it (idle or busy), or it is gone. */
export type Fate = 'idle' | 'busy' | 'gone';

export interface TakeoverPlan {
  /** Every environment the log lists, in the table's order. */
  recorded: { entry: CreatedEntry; fate: Fate }[];
  /** Environments workers run that the log never recorded: to be destroyed. */
  strays: { worker: WorkerAgent; envId: string }[];
}

/**
 * Asks every worker what it runs, fencing it with the new leadership's `epoch` as it asks (the
 * previous leadership's grants are refused from then on), and sets that against the log's table.
 * A worker that does not answer runs nothing as far as the new leader knows.
 */
export async function surveyWorkers(workers: readonly WorkerAgent[], table: EnvironmentTable, epoch: number | undefined, logger: Logger): Promise<TakeoverPlan> {
  const reports = await Promise.all(workers.map(async (worker) => {
    try {
      return { worker, envs: await worker.environments(epoch) };
    } catch (err) {
      logger.warn({ err, worker: worker.id }, 'takeover: worker did not answer; its environments are written off');
      return { worker, envs: [] };
    }
  }));
  const onWorkers = new Map(reports.flatMap(({ worker, envs }) => envs.map((e) => [e.envId, { worker, busy: e.busy }] as const)));
  const recorded: TakeoverPlan['recorded'] = [];
  for (const entry of table.live.values()) {
    const found = onWorkers.get(entry.envId);
    onWorkers.delete(entry.envId);
    const fate: Fate = !found || found.worker.id !== entry.workerId ? 'gone' : found.busy ? 'busy' : 'idle';
    recorded.push({ entry, fate });
  }
  return { recorded, strays: [...onWorkers].map(([envId, { worker }]) => ({ worker, envId })) };
}

/** A worker joined after takeover (or came back): environments it runs that no one knows go. */
export async function destroyUnknown(worker: WorkerAgent, epoch: number | undefined, known: (envId: string) => boolean): Promise<void> {
  const envs = await worker.environments(epoch);
  for (const { envId } of envs) if (!known(envId)) await worker.destroyEnvironment(envId, epoch).catch(() => undefined);
}

/**
 * Just after a takeover, environments that were busy at the old leader come back as their
 * invocations end, their releases delayed by the failover (a frontend learns of the new leader
 * a moment later, and a client's next invoke may reach another frontend first). A cold start
 * of such a key waits for one of them, briefly, instead of starting a new environment.
 */
export class TakeoverGrace {
  /** When this service took over from a previous leader (-Infinity: it did not). */
  private takenOverAtMs = -Infinity;

  constructor(private readonly clock: Clock, private readonly waitMs: number) {}

  begin(): void {
    this.takenOverAtMs = this.clock.now();
  }

  /** Until when a cold start of `key` waits for a late release; undefined: it does not wait. */
  lateReleaseDeadline(key: string, envs: Iterable<EnvironmentEntry>): number | undefined {
    const until = this.takenOverAtMs + this.waitMs;
    if (this.clock.now() >= until) return undefined;
    for (const e of envs) if (e.key === key && e.adoptedBusy && e.state.kind === 'busy') return until;
    return undefined;
  }
}
