/** What the journal keeps for one schedule (format version 1). Times are epoch milliseconds. */
export interface ScheduleDocument {
  v: 1;
  accountId: string;
  groupName: string;
  name: string;
  expression: string;
  /** IANA zone of cron() and at() (default UTC). */
  timezone: string;
  startMs?: number;
  endMs?: number;
  description?: string;
  state: ScheduleState;
  flexible: { mode: 'OFF' } | { mode: 'FLEXIBLE'; maxWindowMinutes: number };
  target: ScheduleTarget;
  actionAfterCompletion: 'NONE' | 'DELETE';
  kmsKeyArn?: string;
  createdMs: number;
  modifiedMs: number;
  /** A rate() counts its periods from here (StartDate, or when it was created or last updated). */
  anchorMs: number;
  /** The due time the next firing stands for (the store's dueAtMs may be later by a flexible window's offset). */
  nominalMs?: number;
}

export type ScheduleState = 'ENABLED' | 'DISABLED';

export interface ScheduleTarget {
  arn: string;
  roleArn: string;
  input?: string;
  retryPolicy: { maximumEventAgeInSeconds: number; maximumRetryAttempts: number };
  deadLetterArn?: string;
}

export interface GroupDocument {
  v: 1;
  accountId: string;
  name: string;
  createdMs: number;
  modifiedMs: number;
  tags: { Key: string; Value: string }[];
}

export const DEFAULT_GROUP = 'default';
export const DEFAULT_RETRY_POLICY = { maximumEventAgeInSeconds: 86_400, maximumRetryAttempts: 185 } as const;

export function scheduleKey(accountId: string, groupName: string, name: string): string {
  return `${accountId}/${groupName}/${name}`;
}

export function groupKey(accountId: string, groupName: string): string {
  return `${accountId}/${groupName}`;
}

export function scheduleArn(region: string, doc: Pick<ScheduleDocument, 'accountId' | 'groupName' | 'name'>): string {
  return `arn:aws:scheduler:${region}:${doc.accountId}:schedule/${doc.groupName}/${doc.name}`;
}

export function groupArn(region: string, accountId: string, name: string): string {
  return `arn:aws:scheduler:${region}:${accountId}:schedule-group/${name}`;
}

/** The schedule as GetSchedule answers it (timestamps as epoch seconds, as REST-JSON sends them). */
export function scheduleShape(region: string, doc: ScheduleDocument): Record<string, unknown> {
  const t = doc.target;
  return {
    ActionAfterCompletion: doc.actionAfterCompletion,
    Arn: scheduleArn(region, doc),
    CreationDate: doc.createdMs / 1000,
    ...(doc.description !== undefined ? { Description: doc.description } : {}),
    ...(doc.endMs !== undefined ? { EndDate: doc.endMs / 1000 } : {}),
    FlexibleTimeWindow: doc.flexible.mode === 'OFF' ? { Mode: 'OFF' } : { Mode: 'FLEXIBLE', MaximumWindowInMinutes: doc.flexible.maxWindowMinutes },
    GroupName: doc.groupName,
    ...(doc.kmsKeyArn !== undefined ? { KmsKeyArn: doc.kmsKeyArn } : {}),
    LastModificationDate: doc.modifiedMs / 1000,
    Name: doc.name,
    ScheduleExpression: doc.expression,
    ScheduleExpressionTimezone: doc.timezone,
    ...(doc.startMs !== undefined ? { StartDate: doc.startMs / 1000 } : {}),
    State: doc.state,
    Target: {
      Arn: t.arn,
      ...(t.deadLetterArn !== undefined ? { DeadLetterConfig: { Arn: t.deadLetterArn } } : {}),
      ...(t.input !== undefined ? { Input: t.input } : {}),
      RetryPolicy: { MaximumEventAgeInSeconds: t.retryPolicy.maximumEventAgeInSeconds, MaximumRetryAttempts: t.retryPolicy.maximumRetryAttempts },
      RoleArn: t.roleArn,
    },
  };
}

/** One schedule as ListSchedules answers it. */
export function scheduleSummary(region: string, doc: ScheduleDocument): Record<string, unknown> {
  return {
    Arn: scheduleArn(region, doc), CreationDate: doc.createdMs / 1000, GroupName: doc.groupName, LastModificationDate: doc.modifiedMs / 1000,
    Name: doc.name, State: doc.state, Target: { Arn: doc.target.arn },
  };
}

export function groupShape(region: string, group: Pick<GroupDocument, 'accountId' | 'name' | 'createdMs' | 'modifiedMs'>): Record<string, unknown> {
  return {
    Arn: groupArn(region, group.accountId, group.name), CreationDate: group.createdMs / 1000, LastModificationDate: group.modifiedMs / 1000,
    Name: group.name, State: 'ACTIVE',
  };
}
