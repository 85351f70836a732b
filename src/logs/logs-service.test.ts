import { beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLogStore } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { spareBitsSet } from '../../test/helpers/base64url.js';
import { LogsService, type LogsOperation, type LogsRequest } from './logs-service.js';
import { PageTokens } from './tokens.js';

const A = '111111111111';
const B = '222222222222';
const G = '/aws/lambda/hello';
const S1 = '2026/12/07/[$LATEST]aaaa';
const S2 = '2026/12/07/[$LATEST]bbbb';

type Events = { timestamp: number; message: string; eventId?: string; logStreamName?: string }[];

describe('LogsService', () => {
  let store: MemoryLogStore;
  let clock: ManualClock;
  let logs: LogsService;
  const call = (account: string, op: LogsOperation, req: LogsRequest) => logs.call(account, op, req);
  const refusal = async (p: Promise<unknown>, code: string, message: RegExp | string) => {
    await assert.rejects(p, (err: unknown) => err instanceof StratusError && err.code === code
      && (typeof message === 'string' ? err.message === message : message.test(err.message)));
  };

  beforeEach(async () => {
    store = new MemoryLogStore();
    clock = new ManualClock(1_800_000_000_000);
    logs = new LogsService({ store, tokens: new PageTokens(Buffer.alloc(32, 7), clock), clock, region: 'us-east-1' });
    const t = clock.now();
    await store.append(A, G, S1, Array.from({ length: 10 }, (_, i) => ({ timestamp: t + i * 2, message: `one ${i} ${i % 2 ? 'ERROR' : 'INFO'}` })), t);
    await store.append(A, G, S2, Array.from({ length: 10 }, (_, i) => ({ timestamp: t + i * 2 + 1, message: `two ${i}` })), t);
  });

  test("an account sees only its own groups: another's is a group that does not exist", async () => {
    assert.deepEqual(((await call(B, 'DescribeLogGroups', {})).logGroups as unknown[]).length, 0);
    const notFound = 'The specified log group does not exist.';
    await refusal(call(B, 'DescribeLogStreams', { logGroupName: G }), 'ResourceNotFound', notFound);
    await refusal(call(B, 'GetLogEvents', { logGroupName: G, logStreamName: S1 }), 'ResourceNotFound', notFound);
    await refusal(call(B, 'FilterLogEvents', { logGroupName: G }), 'ResourceNotFound', notFound);
    await refusal(call(B, 'FilterLogEvents', { logGroupIdentifier: `arn:aws:logs:us-east-1:${A}:log-group:${G}` }), 'ResourceNotFound', notFound);
    await refusal(call(B, 'PutRetentionPolicy', { logGroupName: G, retentionInDays: 1 }), 'ResourceNotFound', notFound);
    await refusal(call(B, 'DeleteLogGroup', { logGroupName: G }), 'ResourceNotFound', notFound);
    assert.equal(((await call(A, 'DescribeLogGroups', {})).logGroups as unknown[]).length, 1);
  });

  test('DescribeLogGroups pages with tokens bound to the account and query', async () => {
    for (let i = 0; i < 5; i++) await call(A, 'CreateLogGroup', { logGroupName: `/aws/lambda/f${i}` });
    await refusal(call(A, 'CreateLogGroup', { logGroupName: G }), 'ResourceConflict', 'The specified log group already exists');
    const first = await call(A, 'DescribeLogGroups', { logGroupNamePrefix: '/aws/lambda/f', limit: 3 });
    assert.deepEqual((first.logGroups as { logGroupName: string }[]).map((g) => g.logGroupName), ['/aws/lambda/f0', '/aws/lambda/f1', '/aws/lambda/f2']);
    const second = await call(A, 'DescribeLogGroups', { logGroupNamePrefix: '/aws/lambda/f', limit: 3, nextToken: first.nextToken });
    assert.deepEqual((second.logGroups as { logGroupName: string }[]).map((g) => g.logGroupName), ['/aws/lambda/f3', '/aws/lambda/f4']);
    assert.equal(second.nextToken, undefined);
    const invalid = 'The specified nextToken is invalid.';
    await refusal(call(B, 'DescribeLogGroups', { logGroupNamePrefix: '/aws/lambda/f', limit: 3, nextToken: first.nextToken }), 'InvalidParameterValue', invalid);
    await refusal(call(A, 'DescribeLogGroups', { logGroupNamePrefix: '/aws/lambda/', limit: 3, nextToken: first.nextToken }), 'InvalidParameterValue', invalid);
    await refusal(call(A, 'DescribeLogGroups', { nextToken: `${String(first.nextToken).slice(0, -2)}xx` }), 'InvalidParameterValue', invalid);
    const [body, mac] = String(first.nextToken).split('.') as [string, string];
    await refusal(call(A, 'DescribeLogGroups', { logGroupNamePrefix: '/aws/lambda/f', limit: 3, nextToken: `${body}.${spareBitsSet(mac)}` }), 'InvalidParameterValue', invalid);
    clock.advance(25 * 60 * 60 * 1000);
    await refusal(call(A, 'DescribeLogGroups', { logGroupNamePrefix: '/aws/lambda/f', limit: 3, nextToken: first.nextToken }), 'InvalidParameterValue', invalid);
  });

  test("limits, names and retention days are CloudWatch's, with its messages", async () => {
    await refusal(call(A, 'DescribeLogGroups', { limit: 51 }), 'InvalidParameterValue',
      "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50");
    await refusal(call(A, 'GetLogEvents', { logGroupName: G, logStreamName: S1, limit: 10_001 }), 'InvalidParameterValue', /less than or equal to 10000/);
    await refusal(call(A, 'CreateLogGroup', { logGroupName: 'bad name!' }), 'InvalidParameterValue', /regular expression pattern/);
    await refusal(call(A, 'PutRetentionPolicy', { logGroupName: G, retentionInDays: 4 }), 'InvalidParameterValue', /enum value set: \[1, 3, 5, 7, 14/);
    await refusal(call(A, 'DescribeLogStreams', { logGroupName: G, orderBy: 'LastEventTime', logStreamNamePrefix: '2026' }), 'InvalidParameterValue',
      'Cannot order by LastEventTime with a logStreamNamePrefix.');
    await call(A, 'PutRetentionPolicy', { logGroupName: G, retentionInDays: 14 });
    assert.equal(((await call(A, 'DescribeLogGroups', {})).logGroups as { retentionInDays?: number }[])[0]?.retentionInDays, 14);
    await call(A, 'DeleteRetentionPolicy', { logGroupName: G });
    assert.equal(((await call(A, 'DescribeLogGroups', {})).logGroups as { retentionInDays?: number }[])[0]?.retentionInDays, undefined);
  });

  test('DescribeLogStreams orders by name or last event time, either way', async () => {
    const names = async (req: LogsRequest) => ((await call(A, 'DescribeLogStreams', { logGroupName: G, ...req })).logStreams as { logStreamName: string }[]).map((s) => s.logStreamName);
    assert.deepEqual(await names({}), [S1, S2]);
    assert.deepEqual(await names({ descending: true }), [S2, S1]);
    assert.deepEqual(await names({ orderBy: 'LastEventTime', descending: true, limit: 1 }), [S2]);
    assert.deepEqual(await names({ logStreamNamePrefix: '2026/12/07/[$LATEST]b' }), [S2]);
  });

  test('GetLogEvents: the latest page by default, f/ and b/ tokens, and the same token back when there is nothing more', async () => {
    const t = clock.now();
    const get = (req: LogsRequest) => call(A, 'GetLogEvents', { logGroupName: G, logStreamName: S1, limit: 3, ...req });
    const msgs = (r: Record<string, unknown>) => (r.events as Events).map((e) => e.message.split(' ')[1]);
    const latest = await get({});
    assert.deepEqual(msgs(latest), ['7', '8', '9']);
    assert.match(String(latest.nextForwardToken), /^f\//);
    assert.match(String(latest.nextBackwardToken), /^b\//);
    const earlier = await get({ nextToken: latest.nextBackwardToken });
    assert.deepEqual(msgs(earlier), ['4', '5', '6']);
    const again = await get({ nextToken: earlier.nextForwardToken });
    assert.deepEqual(msgs(again), ['7', '8', '9']);
    const end = await get({ nextToken: latest.nextForwardToken });
    assert.deepEqual(msgs(end), []);
    assert.equal(end.nextForwardToken, latest.nextForwardToken);
    await store.append(A, G, S1, [{ timestamp: t + 100, message: 'one 10 new' }], t);
    assert.deepEqual(msgs(await get({ nextToken: latest.nextForwardToken })), ['10']);
    const head = await get({ startFromHead: true });
    assert.deepEqual(msgs(head), ['0', '1', '2']);
    const before = await get({ nextToken: head.nextBackwardToken });
    assert.equal(before.nextBackwardToken, head.nextBackwardToken);
    assert.deepEqual(msgs(await get({ startFromHead: true, startTime: t + 4, endTime: t + 8 })), ['2', '3']);
    // FilterLogEvents leaves out only what is later than endTime; GetLogEvents also what is at it.
    const filtered = await call(A, 'FilterLogEvents', { logGroupName: G, logStreamNames: [S1], startTime: t + 4, endTime: t + 8 });
    assert.deepEqual((filtered.events as { message: string }[]).map((e) => e.message.split(' ')[1]), ['2', '3', '4']);
    await refusal(get({ nextToken: `b/${String(latest.nextForwardToken).slice(2)}` }), 'InvalidParameterValue', 'The specified nextToken is invalid.');
    await refusal(call(A, 'GetLogEvents', { logGroupName: G, logStreamName: S2, nextToken: latest.nextForwardToken }), 'InvalidParameterValue', 'The specified nextToken is invalid.');
    await refusal(get({ logStreamName: 'nope' }), 'ResourceNotFound', 'The specified log stream does not exist.');
  });

  test('FilterLogEvents interleaves streams in time order, filters, and pages', async () => {
    const all = await call(A, 'FilterLogEvents', { logGroupName: G });
    const events = all.events as Events;
    assert.equal(events.length, 20);
    assert.deepEqual(events.slice(0, 3).map((e) => e.message), ['one 0 INFO', 'two 0', 'one 1 ERROR']);
    assert.ok(events.every((e) => typeof e.eventId === 'string' && typeof e.logStreamName === 'string'));
    const errors = await call(A, 'FilterLogEvents', { logGroupName: G, filterPattern: 'ERROR', limit: 2 });
    assert.deepEqual((errors.events as Events).map((e) => e.message), ['one 1 ERROR', 'one 3 ERROR']);
    const more = await call(A, 'FilterLogEvents', { logGroupName: G, filterPattern: 'ERROR', limit: 2, nextToken: errors.nextToken });
    assert.deepEqual((more.events as Events).map((e) => e.message), ['one 5 ERROR', 'one 7 ERROR']);
    await refusal(call(A, 'FilterLogEvents', { logGroupName: G, filterPattern: 'INFO', limit: 2, nextToken: errors.nextToken }), 'InvalidParameterValue', 'The specified nextToken is invalid.');
    const two = await call(A, 'FilterLogEvents', { logGroupName: G, logStreamNames: [S2], startTime: clock.now() + 5 });
    assert.deepEqual((two.events as Events).map((e) => e.message), ['two 2', 'two 3', 'two 4', 'two 5', 'two 6', 'two 7', 'two 8', 'two 9']);
    await refusal(call(A, 'FilterLogEvents', { logGroupName: G, filterPattern: 'a:b' }), 'InvalidParameterValue', "Invalid character(s) in term ':'");
  });

  test('FilterLogEvents scans a bounded amount per call and says where to go on', async () => {
    const t = clock.now();
    const big = 'x'.repeat(200_000);
    await store.append(A, '/big', 's', Array.from({ length: 200 }, (_, i) => ({ timestamp: t + i, message: `${big} ${i}` })), t);
    let token: unknown;
    let calls = 0;
    let found = 0;
    do {
      const page = await call(A, 'FilterLogEvents', { logGroupName: '/big', filterPattern: '"x 199"', ...(token ? { nextToken: token } : {}) });
      found += (page.events as Events).length;
      token = page.nextToken;
      calls++;
    } while (token !== undefined);
    assert.equal(found, 1);
    assert.ok(calls > 1, 'the scan took more than one call');
  });

  test('PutLogEvents, CreateLogStream, DeleteLogStream and DeleteLogGroup', async () => {
    await refusal(call(A, 'PutLogEvents', { logGroupName: G, logStreamName: 'manual', logEvents: [{ timestamp: clock.now(), message: 'x' }] }),
      'ResourceNotFound', 'The specified log stream does not exist.');
    await call(A, 'CreateLogStream', { logGroupName: G, logStreamName: 'manual' });
    await refusal(call(A, 'CreateLogStream', { logGroupName: G, logStreamName: 'manual' }), 'ResourceConflict', 'The specified log stream already exists');
    const now = clock.now();
    const out = await call(A, 'PutLogEvents', { logGroupName: G, logStreamName: 'manual', logEvents: [{ timestamp: now - 15 * 86_400_000, message: 'old' }, { timestamp: now - 14.5 * 86_400_000, message: 'x' }] });
    assert.deepEqual(out, { rejectedLogEventsInfo: { tooOldLogEventEndIndex: 2 } });
    assert.deepEqual(await call(A, 'PutLogEvents', { logGroupName: G, logStreamName: 'manual', logEvents: [{ timestamp: now, message: 'fresh' }] }), {});
    const stored = await call(A, 'GetLogEvents', { logGroupName: G, logStreamName: 'manual' });
    assert.deepEqual((stored.events as Events).map((e) => e.message), ['fresh']);
    await refusal(call(A, 'PutLogEvents', { logGroupName: G, logStreamName: 'manual', logEvents: [{ timestamp: now, message: 'b' }, { timestamp: now - 1, message: 'a' }] }),
      'InvalidParameterValue', /chronological order/);
    await call(A, 'DeleteLogStream', { logGroupName: G, logStreamName: 'manual' });
    await refusal(call(A, 'DeleteLogStream', { logGroupName: G, logStreamName: 'manual' }), 'ResourceNotFound', 'The specified log stream does not exist.');
    await call(A, 'DeleteLogGroup', { logGroupName: G });
    await refusal(call(A, 'DeleteLogGroup', { logGroupName: G }), 'ResourceNotFound', 'The specified log group does not exist.');
  });
});
