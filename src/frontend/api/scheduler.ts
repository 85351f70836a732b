import type { Schedules } from '../../scheduler/index.js';
import { parseJsonObject, schedulerErrorResponse, type ApiRequest, type ApiResponse, type Route, pathParam } from '../http/index.js';
import { callerAccount } from './caller.js';

export interface SchedulerRoutesDeps {
  schedules: Schedules;
}

const SCHEDULE = /^\/schedules\/([^/]+)$/;
const SCHEDULES = /^\/schedules\/?$/;
const GROUP = /^\/schedule-groups\/([^/]+)$/;
const GROUPS = /^\/schedule-groups\/?$/;
const TAGS = /^\/tags\/([^/]+)$/;
/** A schedule's Target.Input may be large; AWS takes requests of a few hundred KB. */
const MAX_BODY_BYTES = 512 * 1024;

type Handler = (accountId: string, req: ApiRequest, name: string) => Promise<Record<string, unknown> | void>;

/**
 * EventBridge Scheduler (REST-JSON, API 2021-06-30) on the Lambda API's port, signed for the
 * service `scheduler`: schedules and schedule groups of the account that signed the request.
 * Routes only translate; `scheduler/`'s `Schedules` does the work.
 */
export function schedulerRoutes(deps: SchedulerRoutesDeps): Route[] {
  const { schedules } = deps;
  const route = (method: string, pattern: RegExp, handler: Handler): Route => ({
    method, pattern, body: MAX_BODY_BYTES, sigv4: true, service: 'scheduler',
    handle: (req) => run(req, handler),
  });
  const query = (req: ApiRequest, ...keys: string[]) => Object.fromEntries(keys.flatMap((k) => (req.query.has(k) ? [[k, req.query.get(k)!]] : [])));
  return [
    route('POST', SCHEDULE, (account, req, name) => schedules.create(account, name, parseJsonObject(req.body))),
    route('GET', SCHEDULE, (account, req, name) => schedules.get(account, name, req.query.get('groupName') ?? undefined)),
    route('PUT', SCHEDULE, (account, req, name) => schedules.update(account, name, parseJsonObject(req.body))),
    route('DELETE', SCHEDULE, async (account, req, name) => {
      await schedules.delete(account, name, req.query.get('groupName') ?? undefined);
    }),
    route('GET', SCHEDULES, (account, req) => schedules.list(account, query(req, 'ScheduleGroup', 'NamePrefix', 'State', 'MaxResults', 'NextToken'))),
    route('POST', GROUP, (account, req, name) => schedules.groups.create(account, name, parseJsonObject(req.body))),
    route('GET', GROUP, (account, _req, name) => schedules.groups.get(account, name)),
    route('DELETE', GROUP, async (account, _req, name) => {
      await schedules.groups.delete(account, name);
    }),
    route('GET', GROUPS, (account, req) => schedules.groups.list(account, query(req, 'NamePrefix', 'MaxResults', 'NextToken'))),
    route('GET', TAGS, (account, _req, arn) => schedules.groups.tags(account, arn)),
    route('POST', TAGS, async (account, req, arn) => {
      await schedules.groups.tag(account, arn, parseJsonObject(req.body));
    }),
    route('DELETE', TAGS, async (account, req, arn) => {
      await schedules.groups.untag(account, arn, req.query.getAll('TagKeys'));
    }),
  ];
}

async function run(req: ApiRequest, handler: Handler): Promise<ApiResponse> {
  try {
    const out = await handler(callerAccount(req), req, pathParam(req, 0));
    return { status: 200, body: out ?? {}, headers: { 'content-type': 'application/json' } };
  } catch (err) {
    return schedulerErrorResponse(err);
  }
}
