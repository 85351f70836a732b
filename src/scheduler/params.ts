import { functionTarget } from '../async/index.js';
import { StratusError } from '../shared/errors.js';
import { Validator } from '../shared/validation.js';
import { parseExpression, isTimeZone, type Expression } from './expressions.js';
import { DEFAULT_GROUP, DEFAULT_RETRY_POLICY, type ScheduleDocument } from './model.js';

/** Names of schedules and groups (and their prefixes), as the Scheduler API's model states them. */
export const NAME_RULE = { min: 1, max: 64, pattern: /^[0-9a-zA-Z-_.]+$/, patternText: '^[0-9a-zA-Z-_.]+$' } as const;
const ROLE_ARN = { min: 1, max: 1600, pattern: /^arn:aws(-[a-z]+)?:iam::\d{12}:role\/[\w+=,.@/-]+$/, patternText: '^arn:aws(-[a-z]+)?:iam::\\d{12}:role\\/[\\w+=,.@\\/-]+$' };
const KMS_ARN = { min: 1, max: 2048, pattern: /^arn:aws(-[a-z]+)?:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[0-9a-zA-Z-_]*$/, patternText: '^arn:aws(-[a-z]+)?:kms:[a-z0-9\\-]+:\\d{12}:(key|alias)\\/[0-9a-zA-Z-_]*$' };
const CLIENT_TOKEN = { min: 1, max: 64, pattern: /^[a-zA-Z0-9-_]+$/, patternText: '^[a-zA-Z0-9-_]+$' };
/** Target members of other kinds of targets: a Lambda target has none of them. */
const OTHER_TARGET_MEMBERS = ['EcsParameters', 'EventBridgeParameters', 'KinesisParameters', 'SageMakerPipelineParameters', 'SqsParameters'];

/** A CreateSchedule or UpdateSchedule request, checked: everything of the document that the caller decides. */
export type ScheduleInput = Omit<ScheduleDocument, 'v' | 'accountId' | 'name' | 'createdMs' | 'modifiedMs' | 'anchorMs' | 'nominalMs'> & { parsed: Expression };


/**
 * Checks a CreateSchedule/UpdateSchedule body for `accountId`: the model's constraints first
 * (all reported at once, in AWS's words), then the meaning (expression, time zone, window, dates,
 * target). A target must be a function of the caller's own account, and so must a dead-letter
 * target: schedules never cross accounts.
 */
export function scheduleInput(body: Record<string, unknown>, accountId: string, nowMs: number): ScheduleInput {
  const v = new Validator(body);
  const groupName = v.string('GroupName', 'groupName', NAME_RULE) ?? DEFAULT_GROUP;
  const expression = v.string('ScheduleExpression', 'scheduleExpression', { required: true, min: 1, max: 256 });
  const timezone = v.string('ScheduleExpressionTimezone', 'scheduleExpressionTimezone', { min: 1, max: 50 }) ?? 'UTC';
  const description = v.string('Description', 'description', { max: 512 });
  const state = (v.string('State', 'state', { enum: ['ENABLED', 'DISABLED'] }) ?? 'ENABLED') as ScheduleDocument['state'];
  const action = (v.string('ActionAfterCompletion', 'actionAfterCompletion', { enum: ['NONE', 'DELETE'] }) ?? 'NONE') as ScheduleDocument['actionAfterCompletion'];
  const kmsKeyArn = v.string('KmsKeyArn', 'kmsKeyArn', KMS_ARN);
  v.string('ClientToken', 'clientToken', CLIENT_TOKEN);
  const startMs = timestamp(v, body, 'StartDate', 'startDate');
  const endMs = timestamp(v, body, 'EndDate', 'endDate');
  const window = v.object('FlexibleTimeWindow', 'flexibleTimeWindow');
  if (!window) v.reject(undefined, 'flexibleTimeWindow', 'Member must not be null');
  const w = window ? v.within(window) : undefined;
  const mode = w?.string('Mode', 'flexibleTimeWindow.mode', { required: true, enum: ['OFF', 'FLEXIBLE'] });
  const maxWindow = w?.integer('MaximumWindowInMinutes', 'flexibleTimeWindow.maximumWindowInMinutes', 1, 1440);
  const targetBody = v.object('Target', 'target');
  if (!targetBody) v.reject(undefined, 'target', 'Member must not be null');
  const t = targetBody ? v.within(targetBody) : undefined;
  const arn = t?.string('Arn', 'target.arn', { required: true, min: 1, max: 1600 });
  const roleArn = t?.string('RoleArn', 'target.roleArn', { required: true, ...ROLE_ARN });
  const input = t?.string('Input', 'target.input', { min: 1 });
  const retry = t?.object('RetryPolicy', 'target.retryPolicy');
  const r = retry ? v.within(retry) : undefined;
  const maxAge = r?.integer('MaximumEventAgeInSeconds', 'target.retryPolicy.maximumEventAgeInSeconds', 60, 86_400);
  const maxAttempts = r?.integer('MaximumRetryAttempts', 'target.retryPolicy.maximumRetryAttempts', 0, 185);
  const dlq = t?.object('DeadLetterConfig', 'target.deadLetterConfig');
  const deadLetterArn = dlq ? v.within(dlq).string('Arn', 'target.deadLetterConfig.arn', { min: 1, max: 1600 }) : undefined;
  v.done();

  const parsed = parseExpression(expression!);
  if (!parsed) throw invalid(`Invalid Schedule Expression ${expression}.`);
  if (!isTimeZone(timezone)) throw invalid(`Invalid Schedule Expression Timezone ${timezone}.`);
  if (mode === 'FLEXIBLE' && maxWindow === undefined) throw invalid('MaximumWindowInMinutes must be provided when FlexibleTimeWindow Mode is FLEXIBLE.');
  if (mode === 'OFF' && maxWindow !== undefined) throw invalid('MaximumWindowInMinutes must not be provided when FlexibleTimeWindow Mode is OFF.');
  if (startMs !== undefined && endMs !== undefined && startMs >= endMs) throw invalid('The StartDate must be before the EndDate.');
  if (endMs !== undefined && endMs <= nowMs) throw invalid('The EndDate must be in the future.');
  const unsupported = OTHER_TARGET_MEMBERS.find((m) => targetBody?.[m] !== undefined && targetBody[m] !== null);
  if (unsupported) throw invalid(`Target ${unsupported} is not supported: Stratus schedules invoke Lambda functions only.`);
  ownFunction(arn!, accountId, 'Target Arn');
  if (deadLetterArn !== undefined) ownFunction(deadLetterArn, accountId, 'DeadLetterConfig Arn');
  if (input !== undefined && !isJson(input)) throw invalid('Target Input must be valid JSON: a Lambda target receives it as its event.');
  return {
    groupName, expression: expression!, parsed, timezone, state, actionAfterCompletion: action,
    flexible: mode === 'FLEXIBLE' ? { mode: 'FLEXIBLE', maxWindowMinutes: maxWindow! } : { mode: 'OFF' },
    target: {
      arn: arn!, roleArn: roleArn!,
      retryPolicy: { maximumEventAgeInSeconds: maxAge ?? DEFAULT_RETRY_POLICY.maximumEventAgeInSeconds, maximumRetryAttempts: maxAttempts ?? DEFAULT_RETRY_POLICY.maximumRetryAttempts },
      ...(input !== undefined ? { input } : {}),
      ...(deadLetterArn !== undefined ? { deadLetterArn } : {}),
    },
    ...(description !== undefined ? { description } : {}),
    ...(startMs !== undefined ? { startMs } : {}),
    ...(endMs !== undefined ? { endMs } : {}),
    ...(kmsKeyArn !== undefined ? { kmsKeyArn } : {}),
  };
}

/** 2200-01-01T00:00:00Z, in epoch seconds. */
const LAST_DATE_S = Date.UTC(2200, 0, 1) / 1000;

/** A REST-JSON timestamp member: epoch seconds. */
function timestamp(v: Validator, body: Record<string, unknown>, key: string, field: string): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) return v.reject(value, field, 'Member must be a timestamp');
  // Schedules plan up to the year 2199 (cron's last year): a date past it (or before 1970) names no firing.
  if (value < 0 || value >= LAST_DATE_S) return v.reject(value, field, 'Member must be a timestamp between 1970 and 2199');
  return Math.round(value * 1000);
}

function ownFunction(arn: string, accountId: string, what: string): void {
  const target = functionTarget(arn);
  if (!target) throw invalid(`Invalid ${what} ${arn}: Stratus schedules invoke Lambda functions only.`);
  if (target.accountId !== accountId) throw invalid(`Invalid ${what} ${arn}: a schedule may invoke only functions of its own account.`);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export function invalid(message: string): StratusError {
  return new StratusError('Validation', message);
}
