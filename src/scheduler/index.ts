export { Schedules, type SchedulesDeps } from './schedules.js';
export { ScheduleGroups } from './groups.js';
export { ScheduleFiring, type FiringOutcome, type ScheduleFiringDeps } from './firing.js';
export { DEFAULT_GROUP } from './model.js';
