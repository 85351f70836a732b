import type { WorkerAgent } from '../worker/index.js';
import type { EnvironmentEntry } from './environments.js';

/** An environment's state as an operator sees it (frozen: idle, and its worker has frozen the sandbox). */
export type ListedState = 'initializing' | 'busy' | 'idle' | 'frozen';

export interface ListedEnvironment {
  envId: string;
  /** The function's unqualified ARN (its account is the fourth field). */
  functionArn: string;
  version: string;
  state: ListedState;
  /** Kept for provisioned concurrency. */
  provisioned: boolean;
  memoryMb: number;
  /** Since it was created. */
  ageMs: number;
}

/** One worker's environments, and its warm-pool stems (booted runtimes no function owns yet). */
export interface WorkerEnvironments {
  workerId: string;
  environments: ListedEnvironment[];
  stems: number;
}

/**
 * The table's environments by worker. Each worker is asked which of its idle environments it has
 * frozen (without a fencing epoch: this only reads); one that does not answer shows them idle.
 */
export async function listEnvironments(envs: Iterable<EnvironmentEntry>, workers: WorkerAgent[], nowMs: number): Promise<WorkerEnvironments[]> {
  const live = [...envs].filter((env) => env.state.kind !== 'dead');
  return Promise.all(workers.map(async (worker) => {
    const reports = await worker.environments().catch(() => []);
    const frozen = new Set(reports.filter((r) => r.frozen === true).map((r) => r.envId));
    const environments = live.filter((env) => env.workerId === worker.id).map((env): ListedEnvironment => ({
      envId: env.id, functionArn: env.functionArn, version: env.version, provisioned: env.provisioned, memoryMb: env.memoryMb,
      state: env.state.kind === 'idle' && frozen.has(env.id) ? 'frozen' : (env.state.kind as ListedState),
      ageMs: Math.max(0, nowMs - (env.createdAtMs ?? nowMs)),
    }));
    return { workerId: worker.id, environments, stems: worker.status().stems ?? 0 };
  }));
}
