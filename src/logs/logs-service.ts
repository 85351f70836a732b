import { StratusError } from '../shared/errors.js';
import type { Clock } from '../shared/clock.js';
import type { LogStore, LogStreamInfo } from '../journal/index.js';
import { GROUP_NAME, invalidParameter, Params, RETENTION_DAYS, STREAM_NAME } from './params.js';
import { groupNotFound, groupShape, requestedGroup, streamNotFound, streamShape } from './groups.js';
import { LogEvents } from './log-events.js';
import type { PageTokens } from './tokens.js';

export interface LogsServiceDeps {
  store: LogStore;
  tokens: PageTokens;
  clock: Clock;
  /** The installation's region (in ARNs). */
  region: string;
}

/** A CloudWatch Logs request: the JSON body, as the API defines it. */
export type LogsRequest = Record<string, unknown>;
export type LogsResponse = Record<string, unknown>;

/** The operations served, by their CloudWatch Logs names. */
export const LOGS_OPERATIONS = [
  'CreateLogGroup', 'DeleteLogGroup', 'DescribeLogGroups', 'CreateLogStream', 'DeleteLogStream', 'DescribeLogStreams',
  'PutRetentionPolicy', 'DeleteRetentionPolicy', 'GetLogEvents', 'FilterLogEvents', 'PutLogEvents',
] as const;
export type LogsOperation = (typeof LOGS_OPERATIONS)[number];

/**
 * CloudWatch Logs' semantics over the journal's `LogStore`, per account: every operation is
 * given the caller's account and sees only that account's groups (another account's group is
 * exactly a group that does not exist). Requests are validated with CloudWatch's limits and
 * errors; pages are continued with `PageTokens`, which bind a token to its account, group and query.
 */
export class LogsService {
  private readonly events: LogEvents;

  constructor(private readonly deps: LogsServiceDeps) {
    this.events = new LogEvents(deps);
  }

  /** Runs `operation` for `accountId`. */
  call(accountId: string, operation: LogsOperation, request: LogsRequest): Promise<LogsResponse> {
    const p = new Params(request);
    switch (operation) {
      case 'CreateLogGroup': return this.createLogGroup(accountId, p);
      case 'DeleteLogGroup': return this.deleteLogGroup(accountId, p);
      case 'DescribeLogGroups': return this.describeLogGroups(accountId, p);
      case 'CreateLogStream': return this.createLogStream(accountId, p);
      case 'DeleteLogStream': return this.deleteLogStream(accountId, p);
      case 'DescribeLogStreams': return this.describeLogStreams(accountId, p);
      case 'PutRetentionPolicy': return this.putRetentionPolicy(accountId, p);
      case 'DeleteRetentionPolicy': return this.deleteRetentionPolicy(accountId, p);
      case 'GetLogEvents': return this.events.getLogEvents(accountId, p);
      case 'FilterLogEvents': return this.events.filterLogEvents(accountId, p);
      case 'PutLogEvents': return this.events.putLogEvents(accountId, p);
    }
  }

  private async createLogGroup(accountId: string, p: Params): Promise<LogsResponse> {
    const group = p.required('logGroupName', GROUP_NAME);
    p.done();
    if (!(await this.deps.store.createGroup(accountId, group, this.deps.clock.now()))) {
      throw new StratusError('ResourceConflict', 'The specified log group already exists');
    }
    return {};
  }

  private async deleteLogGroup(accountId: string, p: Params): Promise<LogsResponse> {
    const group = p.required('logGroupName', GROUP_NAME);
    p.done();
    if (!(await this.deps.store.deleteGroup(accountId, group))) throw groupNotFound();
    return {};
  }

  private async describeLogGroups(accountId: string, p: Params): Promise<LogsResponse> {
    const prefix = p.string('logGroupNamePrefix', GROUP_NAME);
    const limit = p.integer('limit', 1, 50) ?? 50;
    const nextToken = p.string('nextToken', { min: 1 });
    p.done();
    const scope = { operation: 'DescribeLogGroups', accountId, group: '', query: { prefix } };
    const after = nextToken === undefined ? undefined : this.deps.tokens.read(scope, nextToken, (c) => (typeof c.after === 'string' ? c.after : undefined));
    const groups = (await this.deps.store.groups(accountId, prefix)).filter((g) => after === undefined || g.name > after);
    const page = groups.slice(0, limit);
    const last = page[page.length - 1];
    return {
      logGroups: page.map((g) => groupShape(this.deps.region, accountId, g)),
      ...(groups.length > limit && last ? { nextToken: this.deps.tokens.issue(scope, { after: last.name }) } : {}),
    };
  }

  private async createLogStream(accountId: string, p: Params): Promise<LogsResponse> {
    const group = p.required('logGroupName', GROUP_NAME);
    const stream = p.required('logStreamName', STREAM_NAME);
    p.done();
    const streams = await this.deps.store.streams(accountId, group);
    if (!streams) throw groupNotFound();
    if (streams.some((s) => s.name === stream)) throw new StratusError('ResourceConflict', 'The specified log stream already exists');
    await this.deps.store.append(accountId, group, stream, [], this.deps.clock.now());
    return {};
  }

  private async deleteLogStream(accountId: string, p: Params): Promise<LogsResponse> {
    const group = p.required('logGroupName', GROUP_NAME);
    const stream = p.required('logStreamName', STREAM_NAME);
    p.done();
    if (!(await this.deps.store.deleteStream(accountId, group, stream))) {
      throw (await this.deps.store.streams(accountId, group)) ? streamNotFound() : groupNotFound();
    }
    return {};
  }

  private async describeLogStreams(accountId: string, p: Params): Promise<LogsResponse> {
    const prefix = p.string('logStreamNamePrefix', STREAM_NAME);
    const orderBy = p.string('orderBy', { enum: ['LogStreamName', 'LastEventTime'] }) ?? 'LogStreamName';
    const descending = p.boolean('descending') ?? false;
    const limit = p.integer('limit', 1, 50) ?? 50;
    const nextToken = p.string('nextToken', { min: 1 });
    const group = requestedGroup(p, accountId, { identifier: true });
    if (orderBy === 'LastEventTime' && prefix !== undefined) throw invalidParameter('Cannot order by LastEventTime with a logStreamNamePrefix.');
    const all = await this.deps.store.streams(accountId, group);
    if (!all) throw groupNotFound();
    const key = (s: LogStreamInfo): [number, string] => [orderBy === 'LastEventTime' ? (s.lastEventTimestamp ?? 0) : 0, s.name];
    const sign = descending ? -1 : 1;
    const compare = (a: [number, string], b: [number, string]) => sign * (a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    const scope = { operation: 'DescribeLogStreams', accountId, group, query: { prefix, orderBy, descending } };
    const after = nextToken === undefined ? undefined : this.deps.tokens.read(scope, nextToken, (c) => {
      const [k, n] = Array.isArray(c.after) ? c.after as unknown[] : [];
      return typeof k === 'number' && typeof n === 'string' ? [k, n] as [number, string] : undefined;
    });
    const streams = all
      .filter((s) => (prefix === undefined || s.name.startsWith(prefix)) && (after === undefined || compare(key(s), after) > 0))
      .sort((a, b) => compare(key(a), key(b)));
    const page = streams.slice(0, limit);
    const last = page[page.length - 1];
    return {
      logStreams: page.map((s) => streamShape(this.deps.region, accountId, group, s)),
      ...(streams.length > limit && last ? { nextToken: this.deps.tokens.issue(scope, { after: key(last) }) } : {}),
    };
  }

  private async putRetentionPolicy(accountId: string, p: Params): Promise<LogsResponse> {
    const group = p.required('logGroupName', GROUP_NAME);
    const days = p.integer('retentionInDays', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, { required: true });
    if (days !== undefined && !RETENTION_DAYS.includes(days)) {
      p.reject(days, 'retentionInDays', `Member must satisfy enum value set: [${RETENTION_DAYS.join(', ')}]`);
    }
    p.done();
    if (!(await this.deps.store.setRetention(accountId, group, days))) throw groupNotFound();
    return {};
  }

  private async deleteRetentionPolicy(accountId: string, p: Params): Promise<LogsResponse> {
    const group = p.required('logGroupName', GROUP_NAME);
    p.done();
    if (!(await this.deps.store.setRetention(accountId, group, undefined))) throw groupNotFound();
    return {};
  }
}
