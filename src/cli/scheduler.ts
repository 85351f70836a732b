import type { Journal, LeaderElection, Candidate } from '../journal/index.js';
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
 * stops and campaigns again. Firing is a compare-and-swap per due time, so a deposed leader that
 * has not noticed yet cannot double a firing either. Resolves a function that resigns and stops.
 */
export function leadScheduling(election: LeaderElection, candidate: Candidate, firing: ScheduleFiring, log: Logger, clock: Clock): () => Promise<void> {
  const abort = new AbortController();
  const loop = (async () => {
    while (!abort.signal.aborted) {
      try {
        const leadership = await election.campaign(candidate, abort.signal);
        log.info({ epoch: leadership.epoch }, 'firing schedules: this process leads the scheduler');
        firing.start();
        const reason = await Promise.race([leadership.lost, new Promise<string>((resolve) => abort.signal.addEventListener('abort', () => resolve('stopping')))]);
        await firing.stop();
        if (abort.signal.aborted) await leadership.resign().catch(() => undefined);
        else log.warn({ reason }, 'scheduler leadership lost: no longer firing schedules');
      } catch (err) {
        if (abort.signal.aborted) break;
        log.warn({ err }, 'campaigning for the scheduler leadership failed; trying again');
        await new Promise<void>((resolve) => clock.setTimer(1000, resolve));
      }
    }
  })();
  return async () => {
    abort.abort();
    await loop;
    await firing.stop();
  };
}
