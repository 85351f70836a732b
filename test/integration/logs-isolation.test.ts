// Attacks on the logs API, on a real `stratus up`, through the real AWS CLI: another account can
// neither see, read, filter, tail, change nor delete an account's log groups (it finds nothing),
// nor use its page tokens; same-named functions of two accounts log into two separate groups; a
// pathological filter pattern is answered without hanging the frontend; out-of-range limits are refused.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { clientFor, createAccount, keyOf, type Key } from '../helpers/accounts.js';
import { aws } from '../helpers/aws-cli.js';
import { createInput } from '../helpers/lambda-api.js';
import { eventsOnce, logsError, logsJson, type LogEvent } from '../helpers/logs-cli.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const HANDLER = `exports.handler = async (event) => { console.log('says ' + event.word); return event.word; };\n`;
const NOT_FOUND = 'The specified log group does not exist.';

describe('one account cannot reach another account’s logs', () => {
  let stratus: StratusProcess;
  let b: Key;
  let bLambda: LambdaClient;
  const run = async (client: LambdaClient, name: string, word: string) => {
    await client.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify({ word })) }));
  };

  before(async () => {
    stratus = await startStratus();
    b = keyOf(await createAccount(stratus.url, stratus.credentials, 'tenant-b'));
    bLambda = clientFor(stratus.url, b);
    const zip = await makeZip({ 'index.js': HANDLER });
    await stratus.lambda.send(new CreateFunctionCommand(createInput('hello', zip)));
    await stratus.lambda.send(new CreateFunctionCommand(createInput('secret', zip)));
    await bLambda.send(new CreateFunctionCommand(createInput('hello', zip)));
    await run(stratus.lambda, 'hello', 'a-hello');
    await run(stratus.lambda, 'secret', 'a-secret');
    await run(bLambda, 'hello', 'b-hello');
    await eventsOnce(stratus, '/aws/lambda/secret', (m) => m.some((x) => x.includes('says a-secret')));
    await eventsOnce(stratus, '/aws/lambda/hello', (m) => m.some((x) => x.includes('says a-hello')));
    await eventsOnce(stratus, '/aws/lambda/hello', (m) => m.some((x) => x.includes('says b-hello')), b);
  });

  after(async () => {
    bLambda?.destroy();
    await stratus?.stop();
  });

  it('same-named functions log into separate groups: nothing of one account shows in the other', async () => {
    const mine = (key?: Key) => logsJson<{ events: LogEvent[] }>(stratus, ['filter-log-events', '--log-group-name', '/aws/lambda/hello'], key);
    const aText = (await mine()).events.map((e) => e.message).join('\n');
    const bText = (await mine(b)).events.map((e) => e.message).join('\n');
    assert.match(aText, /says a-hello/);
    assert.doesNotMatch(aText, /b-hello/);
    assert.match(bText, /says b-hello/);
    assert.doesNotMatch(bText, /a-hello|a-secret/);
    const groups = await logsJson<{ logGroups: { logGroupName: string; arn: string }[] }>(stratus, ['describe-log-groups'], b);
    assert.deepEqual(groups.logGroups.map((g) => g.logGroupName), ['/aws/lambda/hello']);
    assert.doesNotMatch(groups.logGroups[0]?.arn ?? '', /000000000000/);
  });

  it("another account's group is a group that does not exist, by name or by ARN, for every operation", async () => {
    const group = '/aws/lambda/secret';
    const arn = `arn:aws:logs:us-east-1:000000000000:log-group:${group}`;
    const { logStreams } = await logsJson<{ logStreams: { logStreamName: string }[] }>(stratus, ['describe-log-streams', '--log-group-name', group]);
    const stream = logStreams[0]?.logStreamName ?? '';
    const attempts: string[][] = [
      ['describe-log-streams', '--log-group-name', group],
      ['describe-log-streams', '--log-group-identifier', arn],
      ['get-log-events', '--log-group-name', group, '--log-stream-name', stream],
      ['get-log-events', '--log-group-identifier', arn, '--log-stream-name', stream],
      ['filter-log-events', '--log-group-name', group],
      ['filter-log-events', '--log-group-identifier', arn, '--filter-pattern', 'says'],
      ['put-retention-policy', '--log-group-name', group, '--retention-in-days', '1'],
      ['delete-retention-policy', '--log-group-name', group],
      ['delete-log-stream', '--log-group-name', group, '--log-stream-name', stream],
      ['delete-log-group', '--log-group-name', group],
    ];
    for (const args of attempts) await logsError(stratus, args, 'ResourceNotFoundException', NOT_FOUND, b);
    const prefixed = await logsJson<{ logGroups: unknown[] }>(stratus, ['describe-log-groups', '--log-group-name-prefix', '/aws/lambda/s'], b);
    assert.deepEqual(prefixed.logGroups, []);
    const tail = await aws(stratus, ['logs', 'tail', group], { credentials: b });
    assert.notEqual(tail.code, 0);
    assert.match(tail.stderr, /ResourceNotFoundException/);
    assert.doesNotMatch(tail.stdout, /a-secret/);
    // A's group is untouched: its events and no retention.
    const still = await logsJson<{ logGroups: { logGroupName: string; retentionInDays?: number }[] }>(stratus, ['describe-log-groups', '--log-group-name-prefix', group]);
    assert.deepEqual(still.logGroups.map((g) => [g.logGroupName, g.retentionInDays]), [[group, undefined]]);
    const events = await logsJson<{ events: LogEvent[] }>(stratus, ['filter-log-events', '--log-group-name', group, '--filter-pattern', '"says a-secret"']);
    assert.equal(events.events.length, 1);
  });

  it("a page token of one account is refused to another, even for the same query", async () => {
    const page = (key: Key | undefined, start?: string) => logsJson<{ logGroups: { logGroupName: string }[]; NextToken?: string }>(stratus,
      ['describe-log-groups', '--page-size', '1', '--max-items', '1', ...(start ? ['--starting-token', start] : [])], key);
    await logsJson(stratus, ['create-log-group', '--log-group-name', '/b/second'], b);
    const first = await page(undefined);
    assert.ok(first.NextToken, 'account A has a second page');
    const second = await page(undefined, first.NextToken);
    assert.deepEqual(second.logGroups.map((g) => g.logGroupName), ['/aws/lambda/secret'], 'the token works for its own account');
    const r = await aws(stratus, ['logs', 'describe-log-groups', '--page-size', '1', '--max-items', '1', '--starting-token', first.NextToken], { credentials: b });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /\(InvalidParameterException\).*The specified nextToken is invalid\./);
    assert.doesNotMatch(r.stdout, /secret/);
  });

  it('a pathological filter pattern is answered, and the frontend keeps answering', async () => {
    const group = '/attack/patterns';
    await logsJson(stratus, ['create-log-group', '--log-group-name', group], b);
    await logsJson(stratus, ['create-log-stream', '--log-group-name', group, '--log-stream-name', 's'], b);
    const now = Date.now();
    const many = 'a '.repeat(60_000);
    const events = Array.from({ length: 8 }, (_, i) => ({ timestamp: now + i, message: i % 2 ? JSON.stringify({ m: 'a'.repeat(120_000) }) : many }));
    const dir = await mkdtemp(join(tmpdir(), 'logs-attack-'));
    try {
      await writeFile(join(dir, 'events.json'), JSON.stringify(events));
      await logsJson(stratus, ['put-log-events', '--log-group-name', group, '--log-stream-name', 's', '--log-events', `file://${join(dir, 'events.json')}`], b);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const patterns = [
      `{ $.m = "${'*a'.repeat(120)}*b" }`,
      `[${Array.from({ length: 150 }, () => '...').join(',')}, last = b]`,
      `{ ${'('.repeat(30)}$.m = "*b*"${')'.repeat(30)} || $.m = "${'*a'.repeat(100)}*c" }`,
    ];
    for (const pattern of patterns) {
      assert.ok(pattern.length <= 1024);
      const out = await logsJson<{ events: LogEvent[] }>(stratus, ['filter-log-events', '--log-group-name', group, '--filter-pattern', pattern], b);
      assert.deepEqual(out.events, [], 'nothing matches, and the answer came back');
    }
    const matchAll = await logsJson<{ events: LogEvent[] }>(stratus, ['filter-log-events', '--log-group-name', group, '--filter-pattern', `{ $.m = "${'*a'.repeat(50)}*" }`], b);
    assert.equal(matchAll.events.length, 4);
    const groups = await logsJson<{ logGroups: unknown[] }>(stratus, ['describe-log-groups']);
    assert.ok(groups.logGroups.length >= 2, 'the frontend still answers');
  });

  it('out-of-range limits and bad values are refused with CloudWatch’s errors', async () => {
    await logsError(stratus, ['describe-log-groups', '--limit', '51'], 'InvalidParameterException',
      "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50");
    await logsError(stratus, ['describe-log-streams', '--log-group-name', '/aws/lambda/hello', '--limit', '51'], 'InvalidParameterException', /less than or equal to 50/);
    await logsError(stratus, ['get-log-events', '--log-group-name', '/aws/lambda/hello', '--log-stream-name', 'x', '--limit', '10001'], 'InvalidParameterException', /less than or equal to 10000/);
    await logsError(stratus, ['filter-log-events', '--log-group-name', '/aws/lambda/hello', '--filter-pattern', 'x'.repeat(1025)], 'InvalidParameterException', /less than or equal to 1024/);
    await logsError(stratus, ['create-log-group', '--log-group-name', 'no spaces allowed'], 'InvalidParameterException', /regular expression pattern/);
  });
});
