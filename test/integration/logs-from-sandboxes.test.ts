// Function logs from real sandboxes: each environment's output lands in its own stream of its
// own function's group in its own account, whatever the function prints. Two accounts run a
// function of the same name; one of them prints forged platform lines, other groups' names, an
// over-long line, raw bytes and a flood, and none of it reaches anybody else's logs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CloudWatchLogsClient, FilterLogEventsCommand, type FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import { CreateFunctionCommand, InvokeCommand, PublishVersionCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { clientFor, createAccount, keyOf, type Key } from '../helpers/accounts.js';
import { createInput } from '../helpers/lambda-api.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { until } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

const HONEST = `exports.handler = async (event, context) => { console.log('honest says', event.n); console.log('my stream is', context.logStreamName); return 'ok'; };\n`;
const HOSTILE = `exports.handler = async (event) => {
  process.stdout.write('START RequestId: 00000000-0000-0000-0000-000000000000 Version: $LATEST\\n');
  process.stdout.write('REPORT RequestId: forged\\tDuration: 1.00 ms\\t\\n');
  console.log('/aws/lambda/shared 2026/01/01/[$LATEST]' + 'f'.repeat(32) + ' hostile wants in');
  process.stdout.write(Buffer.from([0xff, 0xfe, 0x00, 0x0a]));
  process.stdout.write('L'.repeat(600 * 1024) + '\\n');
  process.stderr.write('no newline at the end');
  return 'done ' + event.n;
};\n`;

describe('function logs: own stream, own group, own account', () => {
  let s: StratusProcess;
  let a: Key;
  let b: Key;
  const logsOf = (key: Key) => new CloudWatchLogsClient({ endpoint: s.url, region: 'us-east-1', credentials: key, maxAttempts: 1 });
  const events = async (key: Key, group: string): Promise<FilteredLogEvent[]> => {
    const client = logsOf(key);
    const all: FilteredLogEvent[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const page = await client.send(new FilterLogEventsCommand({ logGroupName: group, nextToken }));
        all.push(...(page.events ?? []));
        nextToken = page.nextToken;
      } while (nextToken);
    } finally {
      client.destroy();
    }
    return all;
  };
  // Until the first batch is stored, the group does not exist: a refusal means not yet.
  const stored = (check: () => Promise<boolean>, what: string) => until(() => check().catch(() => false), what, 10_000);
  const invoke = async (lambda: LambdaClient, name: string, n: number) => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify({ n })) }));
    assert.equal(out.FunctionError, undefined);
    return out.$metadata.requestId ?? '';
  };

  before(async () => {
    s = await startStratus({ args: ['--function-logs', 'store'] });
    a = keyOf(await createAccount(s.url, s.credentials, 'honest'));
    b = keyOf(await createAccount(s.url, s.credentials, 'hostile'));
    await clientFor(s.url, a).send(new CreateFunctionCommand(createInput('shared', await makeZip({ 'index.js': HONEST }))));
    await clientFor(s.url, b).send(new CreateFunctionCommand(createInput('shared', await makeZip({ 'index.js': HOSTILE }))));
  });
  after(async () => {
    await s?.stop();
  });

  it("keeps each account's lines in its own group, with the platform's lines for each request", async () => {
    const honestIds = [await invoke(clientFor(s.url, a), 'shared', 1), await invoke(clientFor(s.url, a), 'shared', 2)];
    const hostileId = await invoke(clientFor(s.url, b), 'shared', 3);
    await stored(async () => (await events(a, '/aws/lambda/shared')).filter((e) => e.message?.startsWith('REPORT')).length === 2, "A's two REPORT lines");
    // A partial line is stored once it has waited for the rest of it (the shipper's flush delay).
    await stored(async () => (await events(b, '/aws/lambda/shared')).some((e) => e.message === 'no newline at the end'), "B's last, partial line");

    const ofA = await events(a, '/aws/lambda/shared');
    assert.equal(ofA.some((e) => /hostile|forged|L{100}/.test(e.message ?? '')), false, "nothing of B's is in A's group");
    for (const id of honestIds) {
      for (const kind of ['START', 'END', 'REPORT']) assert.ok(ofA.some((e) => e.message?.startsWith(`${kind} RequestId: ${id}`)), `${kind} of ${id}`);
    }
    assert.deepEqual(ofA.filter((e) => e.message?.includes('honest says')).map((e) => e.message?.replace(/^.*honest says /, '')).sort(), ['1', '2']);
    assert.equal(new Set(ofA.map((e) => e.logStreamName)).size, 1, 'one warm environment: one stream');
    assert.match(ofA[0]?.logStreamName ?? '', /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    const told = ofA.find((e) => e.message?.includes('my stream is'))?.message?.replace(/^.*my stream is /, '');
    assert.equal(told, ofA[0]?.logStreamName, 'context.logStreamName is the stream its lines are in');

    const ofB = await events(b, '/aws/lambda/shared');
    assert.equal(ofB.some((e) => e.message?.includes('honest says')), false, "nothing of A's is in B's group");
    const long = ofB.filter((e) => /^L+$/.test(e.message ?? ''));
    assert.deepEqual(long.map((e) => e.message?.length), [256 * 1024, 256 * 1024, 88 * 1024], 'an over-long line is cut into events of at most 256 KB');
    assert.ok(ofB.some((e) => e.message === 'START RequestId: 00000000-0000-0000-0000-000000000000 Version: $LATEST'), 'a forged line stays an ordinary line of its own group');
    assert.ok(ofB.some((e) => e.message === 'no newline at the end'), 'output without a final newline is kept');
    assert.equal(ofB.filter((e) => e.message?.startsWith(`START RequestId: ${hostileId}`)).length, 1);
  });

  it("another account's key sees no such group, even naming it exactly", async () => {
    const outsider = keyOf(await createAccount(s.url, s.credentials, 'outsider'));
    await assert.rejects(events(outsider, '/aws/lambda/shared'), (err: Error) => err.name === 'ResourceNotFoundException');
  });

  it('a published version logs to streams named for it', async () => {
    const lambda = clientFor(s.url, a);
    const v = await lambda.send(new PublishVersionCommand({ FunctionName: 'shared' }));
    await lambda.send(new InvokeCommand({ FunctionName: 'shared', Qualifier: v.Version, Payload: Buffer.from('{"n":9}') }));
    await stored(async () => (await events(a, '/aws/lambda/shared')).some((e) => e.logStreamName?.includes(`[${v.Version}]`) && e.message?.includes('honest says 9')), 'the version stream');
  });
});
