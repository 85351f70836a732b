import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
import { silentLogger } from '../shared/log.js';
import { ScheduleFiring } from './firing.js';
import { Schedules } from './schedules.js';

const A = '111111111111';
const B = '222222222222';
const REGION = 'us-east-1';
const T0 = Date.parse('2030-01-06T12:00:00Z');
const fn = (account: string, name: string) => `arn:aws:lambda:${REGION}:${account}:function:${name}`;
const ROLE = `arn:aws:iam::${A}:role/scheduler`;

interface Fired {
  accountId: string;
  functionName: string;
  qualifier?: string;
  payload: unknown;
  dueAtMs: number;
}

/** A scheduler over one in-memory journal on a manual clock; `fired()` takes what was queued since. */
function setup(opts: { functions?: string[]; random?: () => number; maxPayloadBytes?: number } = {}) {
  const clock = new ManualClock(T0);
  const journal = new MemoryJournal();
  const functions = new Set(opts.functions ?? [`${A}/fn`]);
  const random = opts.random ?? (() => 0);
  const schedules = new Schedules({ store: journal.schedules, groups: journal.scheduleGroups, clock, region: REGION, random });
  const firing = () => new ScheduleFiring({
    store: journal.schedules, clock, log: silentLogger(), region: REGION, random, pollMs: 60_000, maxPayloadBytes: opts.maxPayloadBytes ?? 1024 * 1024,
    functionExists: (account, name) => functions.has(`${account}/${name}`),
  });
  const fired = async (): Promise<Fired[]> => {
    const items = await journal.eventQueue.claim('test', Number.MAX_SAFE_INTEGER / 2, 1, 1000);
    for (const item of items) await journal.eventQueue.remove(item.id, 'test', Number.MAX_SAFE_INTEGER / 2 - 1);
    return items.map((item) => {
      const v = item.value as { accountId: string; functionName: string; qualifier?: string; payload: string };
      return { accountId: v.accountId, functionName: v.functionName, ...(v.qualifier ? { qualifier: v.qualifier } : {}), payload: JSON.parse(Buffer.from(v.payload, 'base64').toString()), dueAtMs: item.dueAtMs };
    });
  };
  const create = (name: string, body: Record<string, unknown>, account = A) => schedules.create(account, name, {
    FlexibleTimeWindow: { Mode: 'OFF' }, Target: { Arn: fn(account, 'fn'), RoleArn: ROLE }, ...body,
  });
  return { clock, journal, schedules, firing, fired, create, functions };
}

describe('ScheduleFiring on a manual clock', () => {
  it('fires rate() once per due time, with the target input as the event', async () => {
    const s = setup();
    await s.create('every5', { ScheduleExpression: 'rate(5 minutes)', Target: { Arn: fn(A, 'fn'), RoleArn: ROLE, Input: '{"n":1,"at":"<aws.scheduler.scheduled-time>"}' } });
    const firing = s.firing();
    s.clock.advance(5 * 60_000 - 1);
    assert.equal(await firing.runDue(), 0, 'not due yet');
    s.clock.advance(1);
    assert.equal(await firing.runDue(), 1);
    assert.equal(await firing.runDue(), 0, 'a due time fires once');
    assert.deepEqual(await s.fired(), [{ accountId: A, functionName: 'fn', payload: { n: 1, at: '2030-01-06T12:05:00Z' }, dueAtMs: T0 + 5 * 60_000 }]);
    s.clock.advance(5 * 60_000);
    assert.equal(await firing.runDue(), 1);
    assert.deepEqual((await s.fired()).map((f) => f.payload), [{ n: 1, at: '2030-01-06T12:10:00Z' }]);
  });

  it('drops (never retries) a firing whose input, placeholders filled in, is over an Event invoke\'s size, and goes on', async () => {
    const s = setup({ maxPayloadBytes: 4096 });
    const big = JSON.stringify({ arns: '<aws.scheduler.schedule-arn>'.repeat(100) });
    assert.ok(big.length < 4096, 'the input as given fits');
    await s.create('swollen', { ScheduleExpression: 'rate(1 minute)', Target: { Arn: fn(A, 'fn'), RoleArn: ROLE, Input: big } });
    await s.create('small', { ScheduleExpression: 'rate(1 minute)' });
    const firing = s.firing();
    s.clock.advance(60_000);
    assert.equal(await firing.runDue(), 2, 'both schedules advance');
    assert.deepEqual((await s.fired()).map((f) => f.payload), [{}], 'only the small one invokes');
    s.clock.advance(60_000);
    assert.equal(await firing.runDue(), 2);
  });

  it('catches up due times missed while nothing ran, each once, but not those older than MaximumEventAgeInSeconds', async () => {
    const s = setup();
    await s.create('every1', { ScheduleExpression: 'rate(1 minute)', Target: { Arn: fn(A, 'fn'), RoleArn: ROLE, RetryPolicy: { MaximumEventAgeInSeconds: 180 } } });
    s.clock.advance(10 * 60_000); // due at +1 .. +10 minutes; only those of the last 180 s are young enough
    assert.equal(await s.firing().runDue(), 4);
    assert.deepEqual((await s.fired()).map((f) => f.dueAtMs - T0), [10, 10, 10].map((m) => m * 60_000), 'events are queued when fired');
    assert.equal((await s.schedules.get(A, 'every1', undefined)).State, 'ENABLED');
  });

  it('fires cron() at wall-clock times of its time zone', async () => {
    const s = setup();
    await s.create('nine', { ScheduleExpression: 'cron(0 9 ? * MON-FRI *)', ScheduleExpressionTimezone: 'America/New_York' });
    const firing = s.firing();
    const times: string[] = [];
    for (let hour = 0; hour < 24 * 3 + 3; hour++) {
      s.clock.advance(3_600_000);
      if ((await firing.runDue()) > 0) times.push(new Date(s.clock.now()).toISOString());
    }
    // From Sunday 2030-01-06 12:00 UTC to Wednesday 15:00: Monday, Tuesday and Wednesday at 09:00 EST = 14:00 UTC.
    assert.deepEqual(times, ['2030-01-07T14:00:00.000Z', '2030-01-08T14:00:00.000Z', '2030-01-09T14:00:00.000Z']);
    assert.equal((await s.fired()).length, 3);
  });

  it('fires at() once, then keeps the schedule (NONE) or deletes it (DELETE)', async () => {
    const s = setup();
    await s.create('keep', { ScheduleExpression: 'at(2030-01-06T13:00:00)' });
    await s.create('drop', { ScheduleExpression: 'at(2030-01-06T22:00:00)', ScheduleExpressionTimezone: 'Asia/Tokyo', ActionAfterCompletion: 'DELETE' });
    const firing = s.firing();
    s.clock.advance(3_600_000);
    assert.equal(await firing.runDue(), 2, 'Tokyo 22:00 is 13:00 UTC too');
    s.clock.advance(86_400_000);
    assert.equal(await firing.runDue(), 0);
    assert.equal((await s.fired()).length, 2);
    assert.equal((await s.schedules.get(A, 'keep', undefined)).Name, 'keep');
    await assert.rejects(s.schedules.get(A, 'drop', undefined), { code: 'ResourceNotFound' });
  });

  it('fires within a flexible window: at the nominal time plus its random offset', async () => {
    const s = setup({ random: () => 0.5 });
    await s.create('flex', { ScheduleExpression: 'rate(1 hour)', FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 10 } });
    const firing = s.firing();
    s.clock.advance(3_600_000 + 5 * 60_000 - 1);
    assert.equal(await firing.runDue(), 0, 'not before its offset in the window');
    s.clock.advance(1);
    assert.equal(await firing.runDue(), 1);
    // The next nominal time is 2 hours after creation, not an hour after the late firing.
    s.clock.advance(3_600_000 - 1);
    assert.equal(await firing.runDue(), 0);
    s.clock.advance(1);
    assert.equal(await firing.runDue(), 1);
  });

  it('of two processes firing at once (a leader and its successor), each due time fires exactly once', async () => {
    const s = setup();
    for (let i = 0; i < 5; i++) await s.create(`race${i}`, { ScheduleExpression: 'rate(1 minute)' });
    const processes = [s.firing(), s.firing(), s.firing()];
    let total = 0;
    for (let minute = 0; minute < 3; minute++) {
      s.clock.advance(60_000);
      const counts = await Promise.all(processes.map((p) => p.runDue()));
      total += counts.reduce((a, b) => a + b, 0);
    }
    assert.equal(total, 15);
    assert.equal((await s.fired()).length, 15);
  });

  it('a disabled schedule does not fire; enabling it plans from then on', async () => {
    const s = setup();
    await s.create('off', { ScheduleExpression: 'rate(1 minute)', State: 'DISABLED' });
    const firing = s.firing();
    s.clock.advance(10 * 60_000);
    assert.equal(await firing.runDue(), 0);
    await s.schedules.update(A, 'off', { ScheduleExpression: 'rate(1 minute)', FlexibleTimeWindow: { Mode: 'OFF' }, Target: { Arn: fn(A, 'fn'), RoleArn: ROLE } });
    s.clock.advance(60_000);
    assert.equal(await firing.runDue(), 1);
  });

  it('polls on the injected clock once started, and again after a stop and a start (a leadership lost and won back)', async () => {
    const s = setup();
    await s.create('polled', { ScheduleExpression: 'rate(1 minute)' });
    const firing = s.firing();
    const settle = async () => {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    };
    firing.start();
    await settle();
    for (let minute = 1; minute <= 2; minute++) {
      s.clock.advance(60_000);
      await settle();
    }
    assert.equal((await s.fired()).length, 2, 'one firing per minute, by the poll alone');
    await firing.stop();
    s.clock.advance(60_000);
    await settle();
    assert.equal((await s.fired()).length, 0, 'a stopped loop fires nothing');
    firing.start();
    firing.start();
    await settle();
    assert.equal((await s.fired()).length, 1, 'the due time missed while stopped fires on the start');
    s.clock.advance(60_000);
    await settle();
    assert.equal((await s.fired()).length, 1, 'and polls on');
    await firing.stop();
  });

  it('sends a firing whose target is gone to the dead-letter function, never to another function', async () => {
    const s = setup({ functions: [`${A}/dlq`, `${B}/fn`] });
    await s.create('orphan', { ScheduleExpression: 'rate(1 minute)', Target: { Arn: fn(A, 'fn'), RoleArn: ROLE, Input: '{"x":1}', DeadLetterConfig: { Arn: fn(A, 'dlq') } } });
    await s.create('lost', { ScheduleExpression: 'rate(1 minute)', Target: { Arn: fn(A, 'gone'), RoleArn: ROLE } });
    s.clock.advance(60_000);
    assert.equal(await s.firing().runDue(), 2);
    const fired = await s.fired();
    assert.equal(fired.length, 1, 'no dead-letter target: dropped');
    assert.equal(fired[0]!.accountId, A);
    assert.equal(fired[0]!.functionName, 'dlq');
    const letter = fired[0]!.payload as Record<string, unknown>;
    assert.equal(letter.ErrorCode, 'ResourceNotFoundException');
    assert.equal(letter.Input, '{"x":1}');
    assert.equal(letter.ScheduleArn, `arn:aws:scheduler:${REGION}:${A}:schedule/default/orphan`);
  });
});
