import { Campaigner, type Journal, type LeaderElection, type Candidate } from '../journal/index.js';
import type { FunctionRegistries } from '../registry/index.js';
import { ScheduleFiring, Schedules } from '../scheduler/index.js';
import type { Clock } from '../shared/clock.js';
import type { StratusConfig } from '../shared/config.js';
import type { Logger } from '../shared/log.js';

/** The leadership that fires schedules in a cluster (one frontend at a time holds it). */
export const SCHEDULER = 'scheduler';

/**
 * EventBridge Scheduler over the journal: the API's `Schedules` (any frontend) and the loop that
 * fires them (`start` it in exactly one process: `stratus up`, or the elected frontend).
 */
export function openScheduler(config: StratusConfig, journal: Journal, registries: FunctionRegistries, clock: Clock, log: Logger) {
  const region = config.identity.region;
  const firing = new ScheduleFiring({
    store: journal.schedules, clock, region, log: log.child({ component: 'scheduler' }), maxPayloadBytes: config.frontend.maxAsyncPayloadBytes,
    functionExists: (accountId, name, qualifier) => {
      try {
        return registries.existing(accountId)?.resolve(name, qualifier) !== undefined;
      } catch {
        return false;
      }
    },
  });
  const schedules = new Schedules({ store: journal.schedules, groups: journal.scheduleGroups, clock, region, changed: () => firing.wake() });
  return { schedules, firing };
}

/**
 * Campaigns for the scheduler leadership and fires schedules while it is held; when it is lost,
 * stops and campaigns again (journal's Campaigner: a failed campaign backs off). Firing is a
 * compare-and-swap per due time, so a deposed leader that has not noticed yet cannot double a
 * firing either. Resolves a function that resigns and stops.
 */
export function leadScheduling(election: LeaderElection, candidate: Candidate, firing: ScheduleFiring, log: Logger, clock: Clock, retryMaxMs?: number): () => Promise<void> {
  const campaigner = new Campaigner({
    election, candidate, clock, log, role: 'scheduler', ...(retryMaxMs === undefined ? {} : { retryMaxMs }),
    lead: async (leadership) => {
      log.info({ epoch: leadership.epoch }, 'firing schedules: this process leads the scheduler');
      firing.start();
      return () => firing.stop();
    },
  });
  campaigner.start();
  return async () => {
    await campaigner.stop();
    await firing.stop();
  };
}
