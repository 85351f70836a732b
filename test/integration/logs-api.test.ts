// CloudWatch Logs for function logs on a real `stratus up`, through the real AWS CLI: real
// functions invoked through the Lambda API write their output into /aws/lambda/<name>, one stream
// per environment, and `aws logs` describes, reads, filters, tails and follows it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { createInput } from '../helpers/lambda-api.js';
import { eventsOnce, follow, logsError, logsJson, type LogEvent } from '../helpers/logs-cli.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

/** Logs a plain line, a JSON line and a warning per invoke, each carrying the event's tag. */
const HANDLER = `exports.handler = async (event) => {
  console.log('plain line ' + event.tag);
  process.stdout.write(JSON.stringify({ level: event.level, n: event.n, tag: event.tag }) + '\\n');
  if (event.warn) console.log('WARN careful ' + event.tag);
  return event.tag;
};\n`;
const GROUP = '/aws/lambda/hello';

describe('aws logs against function logs', () => {
  let stratus: StratusProcess;
  const invoke = (payload: Record<string, unknown>) =>
    stratus.lambda.send(new InvokeCommand({ FunctionName: 'hello', Payload: Buffer.from(JSON.stringify(payload)) }));

  before(async () => {
    stratus = await startStratus();
    await stratus.lambda.send(new CreateFunctionCommand(createInput('hello', await makeZip({ 'index.js': HANDLER }))));
    await invoke({ tag: 'first', level: 'info', n: 1 });
    await invoke({ tag: 'second', level: 'error', n: 7, warn: true });
    await invoke({ tag: 'third', level: 'error', n: 2 });
    await eventsOnce(stratus, GROUP, (m) => m.some((x) => x.includes('plain line third')));
  });

  after(async () => {
    await stratus?.stop();
  });

  it('describe-log-groups and describe-log-streams show the function group and its environment stream', async () => {
    const groups = await logsJson<{ logGroups: { logGroupName: string; arn: string; storedBytes: number }[] }>(stratus, ['describe-log-groups', '--log-group-name-prefix', '/aws/lambda/']);
    assert.deepEqual(groups.logGroups.map((g) => g.logGroupName), [GROUP]);
    assert.equal(groups.logGroups[0]?.arn, `arn:aws:logs:us-east-1:000000000000:log-group:${GROUP}:*`);
    assert.ok((groups.logGroups[0]?.storedBytes ?? 0) > 0);
    const streams = await logsJson<{ logStreams: { logStreamName: string; lastEventTimestamp?: number }[] }>(stratus,
      ['describe-log-streams', '--log-group-name', GROUP, '--order-by', 'LastEventTime', '--descending']);
    assert.equal(streams.logStreams.length, 1, 'one warm environment, one stream');
    assert.match(streams.logStreams[0]?.logStreamName ?? '', /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]+$/);
    await logsError(stratus, ['describe-log-streams', '--log-group-name', GROUP, '--order-by', 'LastEventTime', '--log-stream-name-prefix', '20'],
      'InvalidParameterException', 'Cannot order by LastEventTime with a logStreamNamePrefix.');
  });

  it('get-log-events pages backward and forward with b/ and f/ tokens', async () => {
    const { logStreams } = await logsJson<{ logStreams: { logStreamName: string }[] }>(stratus, ['describe-log-streams', '--log-group-name', GROUP]);
    const stream = logStreams[0]?.logStreamName ?? '';
    type Page = { events: LogEvent[]; nextForwardToken: string; nextBackwardToken: string };
    const get = (extra: string[]) => logsJson<Page>(stratus, ['get-log-events', '--log-group-name', GROUP, '--log-stream-name', stream, '--limit', '2', ...extra]);
    const all = await logsJson<Page>(stratus, ['get-log-events', '--log-group-name', GROUP, '--log-stream-name', stream, '--start-from-head']);
    const messages = all.events.map((e) => e.message);
    assert.ok(messages.some((m) => m.includes('START RequestId')), 'the platform lines are in the stream too');
    const latest = await get(['--no-start-from-head']);
    assert.deepEqual(latest.events.map((e) => e.message), messages.slice(-2));
    assert.match(latest.nextBackwardToken, /^b\//);
    const earlier = await get(['--next-token', latest.nextBackwardToken]);
    assert.deepEqual(earlier.events.map((e) => e.message), messages.slice(-4, -2));
    const forward = await get(['--next-token', earlier.nextForwardToken]);
    assert.deepEqual(forward.events.map((e) => e.message), messages.slice(-2));
    const end = await get(['--next-token', latest.nextForwardToken]);
    assert.deepEqual(end.events, []);
    assert.equal(end.nextForwardToken, latest.nextForwardToken, 'nothing new: the same token back');
  });

  it('filter-log-events with unstructured and JSON patterns', async () => {
    const filter = async (pattern: string) =>
      (await logsJson<{ events: LogEvent[] }>(stratus, ['filter-log-events', '--log-group-name', GROUP, '--filter-pattern', pattern])).events.map((e) => e.message.trim().split('\t').pop());
    assert.deepEqual(await filter('"plain line" -second'), ['plain line first', 'plain line third']);
    assert.deepEqual(await filter('?WARN ?nothing'), ['WARN careful second']);
    assert.deepEqual(await filter('{ $.level = "err*" && ($.n >= 5 || $.tag = "third") }'), [
      JSON.stringify({ level: 'error', n: 7, tag: 'second' }), JSON.stringify({ level: 'error', n: 2, tag: 'third' }),
    ]);
    assert.deepEqual(await filter('{ $.level = "error" && $.n < 5 }'), [JSON.stringify({ level: 'error', n: 2, tag: 'third' })]);
    await logsError(stratus, ['filter-log-events', '--log-group-name', GROUP, '--filter-pattern', 'a:b'], 'InvalidParameterException', "Invalid character(s) in term ':'");
    await logsError(stratus, ['filter-log-events', '--log-group-name', GROUP, '--limit', '10001'], 'InvalidParameterException',
      "Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000");
  });

  it('put-retention-policy takes only CloudWatch day counts', async () => {
    await logsJson(stratus, ['put-retention-policy', '--log-group-name', GROUP, '--retention-in-days', '7']);
    const { logGroups } = await logsJson<{ logGroups: { retentionInDays?: number }[] }>(stratus, ['describe-log-groups']);
    assert.equal(logGroups[0]?.retentionInDays, 7);
    await logsError(stratus, ['put-retention-policy', '--log-group-name', GROUP, '--retention-in-days', '8'], 'InvalidParameterException',
      /Value '8' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: \[1, 3, 5, 7, 14/);
    await logsError(stratus, ['put-retention-policy', '--log-group-name', '/aws/lambda/nope', '--retention-in-days', '7'], 'ResourceNotFoundException',
      'The specified log group does not exist.');
  });

  it('aws logs tail prints the function output, and --follow shows new invokes as they happen', async () => {
    const tail = await aws(stratus, ['logs', 'tail', GROUP, '--since', '1h', '--format', 'short']);
    assert.equal(tail.code, 0, tail.stderr);
    for (const line of ['plain line first', 'plain line second', 'WARN careful second', 'plain line third']) assert.ok(tail.stdout.includes(line), tail.stdout);
    const follower = follow(stratus, GROUP, ['--since', '1h']);
    try {
      await follower.waitFor(['plain line third']);
      await invoke({ tag: 'live', level: 'info', n: 3 });
      const out = await follower.waitFor(['plain line live']);
      assert.equal(out.split('\n').filter((l) => l.includes('plain line live')).length, 1, 'each event once');
    } finally {
      await follower.stop();
    }
  });

  it('an unknown operation gets UnknownOperationException; delete-log-group removes the group', async () => {
    await logsError(stratus, ['list-tags-log-group', '--log-group-name', GROUP], 'UnknownOperationException');
    await logsJson(stratus, ['delete-log-group', '--log-group-name', GROUP]);
    const { logGroups } = await logsJson<{ logGroups: unknown[] }>(stratus, ['describe-log-groups']);
    assert.deepEqual(logGroups, []);
    await logsError(stratus, ['delete-log-group', '--log-group-name', GROUP], 'ResourceNotFoundException', 'The specified log group does not exist.');
  });
});
