// EventBridge Scheduler's API through the real AWS CLI v2 against `stratus up`: schedules and
// schedule groups, AWS's errors for bad input, and one account against another's schedules.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAccount, keyOf, type AccountKey } from '../helpers/accounts.js';
import { signedFetch } from '../helpers/lambda-api.js';
import { functionArn, SCHEDULER_ROLE, schedulerFails, schedulerOk, signedScheduler } from '../helpers/schedules.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';

const ADMIN = '000000000000';
const target = (fields: Record<string, unknown> = {}) => JSON.stringify({ Arn: functionArn(ADMIN, 'fn'), RoleArn: SCHEDULER_ROLE, ...fields });
const create = (name: string, expression: string, ...extra: string[]) => [
  'create-schedule', '--name', name, '--schedule-expression', expression, '--flexible-time-window', 'Mode=OFF', '--target', target(), ...extra,
];

describe('EventBridge Scheduler API (aws scheduler)', () => {
  let s: StratusProcess;
  before(async () => {
    s = await startStratus();
  });
  after(async () => {
    await s?.stop();
  });

  it('creates, gets, lists, updates and deletes a schedule in the default group', async () => {
    const created = await schedulerOk(s, [...create('nightly', 'rate(5 minutes)').slice(0, -2), '--target', target({ Input: '{"a":1}' })]);
    assert.equal(created.ScheduleArn, `arn:aws:scheduler:us-east-1:${ADMIN}:schedule/default/nightly`);
    const got = await schedulerOk(s, ['get-schedule', '--name', 'nightly']);
    assert.equal(got.Name, 'nightly');
    assert.equal(got.GroupName, 'default');
    assert.equal(got.State, 'ENABLED');
    assert.equal(got.ScheduleExpression, 'rate(5 minutes)');
    assert.deepEqual(got.FlexibleTimeWindow, { Mode: 'OFF' });
    assert.deepEqual(got.Target, {
      Arn: functionArn(ADMIN, 'fn'), RoleArn: SCHEDULER_ROLE, Input: '{"a":1}', RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
    });
    assert.ok(typeof got.CreationDate === 'string' && Math.abs(Date.parse(got.CreationDate) - Date.now()) < 60_000, `CreationDate ${String(got.CreationDate)}`);

    await schedulerOk(s, [
      'update-schedule', '--name', 'nightly', '--schedule-expression', 'cron(0 2 ? * MON-FRI *)', '--schedule-expression-timezone', 'Europe/Paris',
      '--flexible-time-window', 'Mode=FLEXIBLE,MaximumWindowInMinutes=15', '--state', 'DISABLED', '--description', 'weekdays',
      '--target', target({ RetryPolicy: { MaximumEventAgeInSeconds: 600, MaximumRetryAttempts: 3 }, DeadLetterConfig: { Arn: functionArn(ADMIN, 'dlq') } }),
    ]);
    const updated = await schedulerOk(s, ['get-schedule', '--name', 'nightly', '--group-name', 'default']);
    assert.equal(updated.ScheduleExpression, 'cron(0 2 ? * MON-FRI *)');
    assert.equal(updated.ScheduleExpressionTimezone, 'Europe/Paris');
    assert.deepEqual(updated.FlexibleTimeWindow, { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 });
    assert.equal(updated.State, 'DISABLED');
    assert.equal(updated.Description, 'weekdays');
    assert.equal(updated.CreationDate, got.CreationDate, 'an update keeps the creation date');
    assert.deepEqual((updated.Target as Record<string, unknown>).DeadLetterConfig, { Arn: functionArn(ADMIN, 'dlq') });
    assert.equal((updated.Target as Record<string, unknown>).Input, undefined, 'members not given are reset, as in AWS');

    const names = async (...args: string[]) => ((await schedulerOk(s, ['list-schedules', ...args])).Schedules as { Name: string }[]).map((x) => x.Name);
    assert.ok((await names()).includes('nightly'));
    assert.ok((await names('--state', 'DISABLED')).includes('nightly'));
    assert.ok(!(await names('--state', 'ENABLED')).includes('nightly'));
    assert.deepEqual(await names('--name-prefix', 'night'), ['nightly']);
    const [summary] = (await schedulerOk(s, ['list-schedules', '--name-prefix', 'night'])).Schedules as Record<string, unknown>[];
    assert.deepEqual(summary?.Target, { Arn: functionArn(ADMIN, 'fn') });

    await schedulerOk(s, ['delete-schedule', '--name', 'nightly']);
    await schedulerFails(s, ['get-schedule', '--name', 'nightly'], 'ResourceNotFoundException', 'Schedule nightly does not exist.');
    await schedulerFails(s, ['delete-schedule', '--name', 'nightly'], 'ResourceNotFoundException', 'Schedule nightly does not exist.');
    await schedulerFails(s, ['update-schedule', '--name', 'nightly', '--schedule-expression', 'rate(1 hour)', '--flexible-time-window', 'Mode=OFF', '--target', target()],
      'ResourceNotFoundException', 'Schedule nightly does not exist.');
  });

  it('pages through list-schedules', async () => {
    for (let i = 0; i < 5; i++) await schedulerOk(s, create(`page-${i}`, 'rate(1 hour)'));
    const all = (await schedulerOk(s, ['list-schedules', '--name-prefix', 'page-', '--page-size', '2'])).Schedules as { Name: string }[];
    assert.deepEqual(all.map((x) => x.Name), ['page-0', 'page-1', 'page-2', 'page-3', 'page-4'], 'the CLI followed NextToken');
    const first = await schedulerOk(s, ['list-schedules', '--name-prefix', 'page-', '--max-items', '2']);
    assert.equal((first.Schedules as unknown[]).length, 2);
    assert.ok(first.NextToken, 'a next token');
  });

  it('keeps schedules in groups: default always exists, others are created and deleted with their schedules', async () => {
    const group = await schedulerOk(s, ['create-schedule-group', '--name', 'team-a']);
    assert.equal(group.ScheduleGroupArn, `arn:aws:scheduler:us-east-1:${ADMIN}:schedule-group/team-a`);
    await schedulerFails(s, ['create-schedule-group', '--name', 'team-a'], 'ConflictException', 'Schedule group team-a already exists.');
    await schedulerFails(s, ['create-schedule-group', '--name', 'default'], 'ConflictException', 'Schedule group default already exists.');
    await schedulerOk(s, create('in-group', 'rate(1 day)', '--group-name', 'team-a'));
    await schedulerOk(s, create('in-group', 'rate(1 day)'));
    assert.equal((await schedulerOk(s, ['get-schedule', '--name', 'in-group', '--group-name', 'team-a'])).GroupName, 'team-a');
    assert.equal((await schedulerOk(s, ['get-schedule', '--name', 'in-group'])).GroupName, 'default');
    const inGroup = (await schedulerOk(s, ['list-schedules', '--group-name', 'team-a'])).Schedules as { Name: string; GroupName: string }[];
    assert.deepEqual(inGroup.map((x) => `${x.GroupName}/${x.Name}`), ['team-a/in-group']);
    const groups = (await schedulerOk(s, ['list-schedule-groups'])).ScheduleGroups as { Name: string; State: string }[];
    assert.deepEqual(groups.map((g) => g.Name), ['default', 'team-a']);
    assert.equal((await schedulerOk(s, ['get-schedule-group', '--name', 'team-a'])).State, 'ACTIVE');

    await schedulerFails(s, create('x', 'rate(1 day)', '--group-name', 'nope'), 'ResourceNotFoundException', 'Schedule group nope does not exist.');
    await schedulerFails(s, ['get-schedule', '--name', 'x', '--group-name', 'nope'], 'ResourceNotFoundException', 'Schedule group nope does not exist.');
    await schedulerFails(s, ['list-schedules', '--group-name', 'nope'], 'ResourceNotFoundException', 'Schedule group nope does not exist.');
    await schedulerFails(s, ['delete-schedule-group', '--name', 'default'], 'ValidationException', 'The default schedule group cannot be deleted.');

    await schedulerOk(s, ['delete-schedule-group', '--name', 'team-a']);
    await schedulerFails(s, ['get-schedule-group', '--name', 'team-a'], 'ResourceNotFoundException', 'Schedule group team-a does not exist.');
    await schedulerFails(s, ['get-schedule', '--name', 'in-group', '--group-name', 'team-a'], 'ResourceNotFoundException', 'Schedule group team-a does not exist.');
    await schedulerOk(s, ['create-schedule-group', '--name', 'team-a']);
    assert.deepEqual((await schedulerOk(s, ['list-schedules', '--group-name', 'team-a'])).Schedules, [], 'its schedules went with it');
    assert.equal((await schedulerOk(s, ['get-schedule', '--name', 'in-group'])).GroupName, 'default', 'the default group keeps its own');
  });

  it('tags schedule groups', async () => {
    const arn = (await schedulerOk(s, ['create-schedule-group', '--name', 'tagged', '--tags', 'Key=team,Value=a', 'Key=cost,Value=1'])).ScheduleGroupArn as string;
    const tags = async () => (await schedulerOk(s, ['list-tags-for-resource', '--resource-arn', arn])).Tags;
    assert.deepEqual(await tags(), [{ Key: 'team', Value: 'a' }, { Key: 'cost', Value: '1' }]);
    await schedulerOk(s, ['tag-resource', '--resource-arn', arn, '--tags', 'Key=team,Value=b', 'Key=env,Value=prod']);
    await schedulerOk(s, ['untag-resource', '--resource-arn', arn, '--tag-keys', 'cost']);
    assert.deepEqual(await tags(), [{ Key: 'team', Value: 'b' }, { Key: 'env', Value: 'prod' }]);
    await schedulerFails(s, ['list-tags-for-resource', '--resource-arn', `arn:aws:scheduler:us-east-1:${ADMIN}:schedule-group/missing`], 'ResourceNotFoundException', 'Schedule group missing does not exist.');
    await schedulerFails(s, ['list-tags-for-resource', '--resource-arn', 'arn:aws:lambda:us-east-1:000000000000:function:fn'], 'ValidationException', "at 'resourceArn' failed to satisfy constraint");
  });

  it("answers bad input with AWS's errors", async () => {
    await schedulerOk(s, create('dup', 'rate(1 hour)'));
    await schedulerFails(s, create('dup', 'rate(2 hours)'), 'ConflictException', 'Schedule dup already exists.');
    for (const bad of ['rate(0 minutes)', 'rate(5 seconds)', 'cron(* * * * *)', 'cron(0 12 * * * *)', 'at(2030-02-30T00:00:00)', 'every day']) {
      await schedulerFails(s, create('bad', bad), 'ValidationException', `Invalid Schedule Expression ${bad}.`);
    }
    await schedulerFails(s, create('bad', 'cron(0 9 * * ? *)', '--schedule-expression-timezone', 'Mars/Olympus'), 'ValidationException', 'Invalid Schedule Expression Timezone Mars/Olympus.');
    await schedulerFails(s, ['create-schedule', '--name', 'bad', '--schedule-expression', 'rate(1 hour)', '--flexible-time-window', 'Mode=FLEXIBLE', '--target', target()],
      'ValidationException', 'MaximumWindowInMinutes must be provided when FlexibleTimeWindow Mode is FLEXIBLE.');
    await schedulerFails(s, ['create-schedule', '--name', 'bad', '--schedule-expression', 'rate(1 hour)', '--flexible-time-window', 'Mode=FLEXIBLE,MaximumWindowInMinutes=2000', '--target', target()],
      'ValidationException', "1 validation error detected: Value '2000' at 'flexibleTimeWindow.maximumWindowInMinutes' failed to satisfy constraint: Member must have value less than or equal to 1440");
    await schedulerFails(s, create('bad name!', 'rate(1 hour)'), 'ValidationException',
      "1 validation error detected: Value 'bad name!' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9a-zA-Z-_.]+$");
    await schedulerFails(s, [...create('bad', 'rate(1 hour)').slice(0, -1), JSON.stringify({ Arn: 'arn:aws:sqs:us-east-1:000000000000:queue', RoleArn: SCHEDULER_ROLE })],
      'ValidationException', 'Stratus schedules invoke Lambda functions only.');
    await schedulerFails(s, [...create('bad', 'rate(1 hour)').slice(0, -1), target({ Input: 'not json' })], 'ValidationException', 'Target Input must be valid JSON');
    await schedulerFails(s, [...create('bad', 'rate(1 hour)').slice(0, -1), target({ RetryPolicy: { MaximumRetryAttempts: 200 } })], 'ValidationException',
      "Value '200' at 'target.retryPolicy.maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 185");
    await schedulerFails(s, [...create('bad', 'rate(1 hour)'), '--start-date', '2031-01-01T00:00:00Z', '--end-date', '2030-01-01T00:00:00Z'], 'ValidationException', 'The StartDate must be before the EndDate.');
    await schedulerFails(s, [...create('bad', 'rate(1 hour)'), '--end-date', '2001-01-01T00:00:00Z'], 'ValidationException', 'The EndDate must be in the future.');
    // A date no schedule can reach is the caller's error, not the service's.
    await schedulerFails(s, [...create('bad', 'cron(0 9 * * ? *)'), '--start-date', '9999-01-01T00:00:00Z'], 'ValidationException', 'between 1970 and 2199');

    // What the CLI would not send (it checks required members itself), sent as the SDKs sign it.
    const noTarget = await signedScheduler(s, 'POST', '/schedules/bad', { ScheduleExpression: 'rate(1 hour)', FlexibleTimeWindow: { Mode: 'OFF' } });
    assert.equal(noTarget.status, 400);
    assert.equal(noTarget.type, 'ValidationException');
    assert.equal(noTarget.json.Message, "1 validation error detected: Value null at 'target' failed to satisfy constraint: Member must not be null");
    const lambdaSigned = await signedFetch(s, 'GET', '/schedules');
    assert.equal(lambdaSigned.status, 403, 'a signature scoped to lambda does not open the scheduler');
    const notJson = await signedScheduler(s, 'POST', '/schedules/bad', undefined);
    assert.equal(notJson.status, 400);
    assert.equal(notJson.type, 'ValidationException');
    assert.equal(await signedScheduler(s, 'GET', '/schedules/bad').then((r) => r.type), 'ResourceNotFoundException', 'nothing was created by refused requests');
  });

  it('keeps ActionAfterCompletion (a member newer than this CLI) as the SDKs send it', async () => {
    const body = { ScheduleExpression: 'at(2031-01-01T00:00:00)', FlexibleTimeWindow: { Mode: 'OFF' }, Target: { Arn: functionArn(ADMIN, 'fn'), RoleArn: SCHEDULER_ROLE } };
    assert.equal((await signedScheduler(s, 'POST', '/schedules/once', { ...body, ActionAfterCompletion: 'DELETE' })).status, 200);
    assert.equal((await signedScheduler(s, 'GET', '/schedules/once')).json.ActionAfterCompletion, 'DELETE');
    assert.equal((await signedScheduler(s, 'POST', '/schedules/once-default', body)).status, 200);
    assert.equal((await signedScheduler(s, 'GET', '/schedules/once-default')).json.ActionAfterCompletion, 'NONE');
    const bad = await signedScheduler(s, 'POST', '/schedules/once-bad', { ...body, ActionAfterCompletion: 'SOMETIMES' });
    assert.equal(bad.type, 'ValidationException');
    assert.match(String(bad.json.Message), /Member must satisfy enum value set: \[NONE, DELETE\]/);
  });

  describe('another account (attack)', () => {
    let other: AccountKey;
    before(async () => {
      other = await createAccount(s.url, s.credentials, 'intruder');
      await schedulerOk(s, ['create-schedule-group', '--name', 'private']);
      await schedulerOk(s, create('victim', 'rate(1 hour)', '--group-name', 'private'));
      await schedulerOk(s, create('victim', 'rate(1 hour)'));
    });

    it("can neither read, list, change nor delete the account's schedules and groups", async () => {
      const key = keyOf(other);
      await schedulerFails(s, ['get-schedule', '--name', 'victim'], 'ResourceNotFoundException', 'Schedule victim does not exist.', key);
      await schedulerFails(s, ['get-schedule', '--name', 'victim', '--group-name', 'private'], 'ResourceNotFoundException', 'Schedule group private does not exist.', key);
      await schedulerFails(s, ['get-schedule-group', '--name', 'private'], 'ResourceNotFoundException', 'Schedule group private does not exist.', key);
      await schedulerFails(s, ['delete-schedule', '--name', 'victim'], 'ResourceNotFoundException', 'Schedule victim does not exist.', key);
      await schedulerFails(s, ['delete-schedule-group', '--name', 'private'], 'ResourceNotFoundException', 'Schedule group private does not exist.', key);
      await schedulerFails(s, ['update-schedule', '--name', 'victim', '--schedule-expression', 'rate(1 minute)', '--flexible-time-window', 'Mode=OFF',
        '--target', JSON.stringify({ Arn: functionArn(other.AccountId, 'fn'), RoleArn: SCHEDULER_ROLE })], 'ResourceNotFoundException', 'Schedule victim does not exist.', key);
      assert.deepEqual((await schedulerOk(s, ['list-schedules'], key)).Schedules, []);
      assert.deepEqual(((await schedulerOk(s, ['list-schedule-groups'], key)).ScheduleGroups as { Name: string }[]).map((g) => g.Name), ['default']);
      const privateArn = `arn:aws:scheduler:us-east-1:${ADMIN}:schedule-group/private`;
      await schedulerFails(s, ['list-tags-for-resource', '--resource-arn', privateArn], 'ResourceNotFoundException', 'Schedule group private does not exist.', key);
      await schedulerFails(s, ['tag-resource', '--resource-arn', privateArn, '--tags', 'Key=owned,Value=yes'], 'ResourceNotFoundException', 'Schedule group private does not exist.', key);
      assert.deepEqual((await schedulerOk(s, ['list-tags-for-resource', '--resource-arn', privateArn])).Tags, []);
      // Its own schedule of the same name is its own, and leaves the victim's alone.
      await schedulerOk(s, ['create-schedule', '--name', 'victim', '--schedule-expression', 'rate(2 hours)', '--flexible-time-window', 'Mode=OFF',
        '--target', JSON.stringify({ Arn: functionArn(other.AccountId, 'fn'), RoleArn: SCHEDULER_ROLE })], key);
      const mine = await schedulerOk(s, ['get-schedule', '--name', 'victim']);
      assert.equal(mine.ScheduleExpression, 'rate(1 hour)');
      assert.equal(mine.Arn, `arn:aws:scheduler:us-east-1:${ADMIN}:schedule/default/victim`);
      const theirs = await schedulerOk(s, ['get-schedule', '--name', 'victim'], key);
      assert.equal(theirs.Arn, `arn:aws:scheduler:us-east-1:${other.AccountId}:schedule/default/victim`);
    });

    it("cannot make a schedule invoke the account's functions, as target or dead-letter target", async () => {
      const key = keyOf(other);
      const args = (t: Record<string, unknown>) => ['create-schedule', '--name', 'hijack', '--schedule-expression', 'rate(1 minute)', '--flexible-time-window', 'Mode=OFF', '--target', JSON.stringify(t)];
      await schedulerFails(s, args({ Arn: functionArn(ADMIN, 'fn'), RoleArn: SCHEDULER_ROLE }), 'ValidationException', 'a schedule may invoke only functions of its own account', key);
      await schedulerFails(s, args({ Arn: `${functionArn(ADMIN, 'fn')}:prod`, RoleArn: SCHEDULER_ROLE }), 'ValidationException', 'a schedule may invoke only functions of its own account', key);
      await schedulerFails(s, args({ Arn: functionArn(other.AccountId, 'fn'), RoleArn: SCHEDULER_ROLE, DeadLetterConfig: { Arn: functionArn(ADMIN, 'fn') } }),
        'ValidationException', 'a schedule may invoke only functions of its own account', key);
      await schedulerFails(s, ['get-schedule', '--name', 'hijack'], 'ResourceNotFoundException', 'Schedule hijack does not exist.', key);
    });
  });
});
