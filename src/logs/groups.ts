import { StratusError } from '../shared/errors.js';
import type { LogGroupInfo, LogStreamInfo } from '../journal/index.js';
import { GROUP_NAME, invalidParameter, type Params } from './params.js';

/** CloudWatch's answers for a group or stream that is not there (or is another account's). */
export const groupNotFound = () => new StratusError('ResourceNotFound', 'The specified log group does not exist.');
export const streamNotFound = () => new StratusError('ResourceNotFound', 'The specified log stream does not exist.');

/**
 * The group a request names, by `logGroupName` or `logGroupIdentifier` (a name or the group's
 * ARN). An ARN of another account names nothing this caller can see: ResourceNotFoundException,
 * as for a group that does not exist.
 */
export function requestedGroup(p: Params, accountId: string, opts: { identifier: boolean }): string {
  const name = p.string('logGroupName', GROUP_NAME);
  const identifier = opts.identifier ? p.string('logGroupIdentifier', { min: 1, max: 2048, pattern: /^[\w#+=/:,.@-]*$/, patternText: '[\\w#+=/:,.@-]*' }) : undefined;
  if (name === undefined && identifier === undefined && !opts.identifier) p.required('logGroupName', GROUP_NAME);
  p.done();
  if (name !== undefined && identifier !== undefined) throw invalidParameter('LogGroup name and LogGroup ARN are mutually exclusive parameters.');
  if (name !== undefined) return name;
  if (identifier === undefined) throw invalidParameter('Should provide either name or ARN of the log group.');
  const arn = /^arn:[^:]+:logs:[^:]*:(\d{12}):log-group:([^:]+)(:\*)?$/.exec(identifier);
  if (!arn) return identifier;
  if (arn[1] !== accountId) throw groupNotFound();
  return arn[2] as string;
}

export function groupArn(region: string, accountId: string, group: string): string {
  return `arn:aws:logs:${region}:${accountId}:log-group:${group}`;
}

/** A group as DescribeLogGroups shows it. */
export function groupShape(region: string, accountId: string, g: LogGroupInfo): Record<string, unknown> {
  const arn = groupArn(region, accountId, g.name);
  return {
    logGroupName: g.name,
    creationTime: g.creationTime,
    ...(g.retentionInDays === undefined ? {} : { retentionInDays: g.retentionInDays }),
    metricFilterCount: 0,
    arn: `${arn}:*`,
    storedBytes: g.storedBytes,
    logGroupClass: 'STANDARD',
    logGroupArn: arn,
  };
}

/** A stream as DescribeLogStreams shows it. */
export function streamShape(region: string, accountId: string, group: string, s: LogStreamInfo): Record<string, unknown> {
  return {
    logStreamName: s.name,
    creationTime: s.creationTime,
    ...(s.firstEventTimestamp === undefined ? {} : { firstEventTimestamp: s.firstEventTimestamp }),
    ...(s.lastEventTimestamp === undefined ? {} : { lastEventTimestamp: s.lastEventTimestamp }),
    ...(s.lastIngestionTime === undefined ? {} : { lastIngestionTime: s.lastIngestionTime }),
    arn: `${groupArn(region, accountId, group)}:log-stream:${s.name}`,
    storedBytes: s.storedBytes,
  };
}
