// Accounts in a real cluster (TLS between every process, per-worker credentials): an account
// created through one frontend is known at once to the other, its functions run on the cluster's
// workers under its own ARN, another account cannot reach them through either frontend, and a
// key deleted through one frontend is refused by the other. A function's output on a remote
// worker reaches its account's logs in etcd through the internal API, readable from any frontend.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateFunctionCommand, GetFunctionCommand, InvokeCommand, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { clientFor, createAccount, keyOf, stratusAccounts, type AccountKey } from '../helpers/accounts.js';
import { consoleSession } from '../helpers/browser.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createInput, expectLambdaError } from '../helpers/lambda-api.js';
import { makeZip } from '../helpers/zip.js';

/** Retries a call that depends on a journal change reaching the other frontend (a watch, so quick). */
async function eventually<T>(call: () => Promise<T>, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('accounts in a cluster', () => {
  let cluster: Cluster;
  let a: AccountKey;
  let b: AccountKey;
  const url = (i: number) => cluster.frontends[i]?.url ?? '';
  before(async () => {
    cluster = await startCluster({ frontends: 2, replicas: 1, workers: 1, workerMemoryMb: 1024 });
    a = await createAccount(url(0), cluster.credentials, 'team-a');
    b = await createAccount(url(1), cluster.credentials, 'team-b');
  });
  after(() => cluster?.stop());

  it('an account made through one frontend works through the other; its function runs on a worker under its own ARN', async () => {
    const zip = await makeZip({ 'index.js': 'exports.handler = async () => ({ from: "a" });\n' });
    const created = await eventually(() => clientFor(url(1), keyOf(a)).send(new CreateFunctionCommand(createInput('hello', zip))));
    assert.equal(created.FunctionArn, `arn:aws:lambda:us-east-1:${a.AccountId}:function:hello`);
    const out = await eventually(() => clientFor(url(0), keyOf(a)).send(new InvokeCommand({ FunctionName: 'hello' })));
    assert.deepEqual(JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString()), { from: 'a' });
  });

  it('another account reaches nothing of it through either frontend', async () => {
    for (const i of [0, 1]) {
      const client = clientFor(url(i), keyOf(b));
      assert.deepEqual((await eventually(() => client.send(new ListFunctionsCommand({})))).Functions, []);
      const arn = `arn:aws:lambda:us-east-1:${a.AccountId}:function:hello`;
      await expectLambdaError(client.send(new GetFunctionCommand({ FunctionName: arn })), 'ResourceNotFoundException', 404, `Function not found: ${arn}`);
      await expectLambdaError(client.send(new InvokeCommand({ FunctionName: arn })), 'ResourceNotFoundException', 404, `Function not found: ${arn}`);
    }
  });

  it("the function's output on a remote worker is its account's logs in etcd, read through either frontend; the console lists its environment", async () => {
    const lambda = clientFor(url(0), keyOf(a));
    const zip = await makeZip({ 'index.js': 'exports.handler = async (e) => { console.log("cluster log", e.n); return {}; };\n' });
    await lambda.send(new CreateFunctionCommand(createInput('logger', zip)));
    await lambda.send(new InvokeCommand({ FunctionName: 'logger', Payload: Buffer.from('{"n":42}') }));
    for (const i of [0, 1]) {
      const logs = new CloudWatchLogsClient({ endpoint: url(i), region: 'us-east-1', credentials: keyOf(a), maxAttempts: 1 });
      try {
        const found = await eventually(async () => {
          const page = await logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/logger', filterPattern: '"cluster log"' }));
          assert.equal(page.events?.length, 1);
          return page.events?.[0];
        });
        assert.match(found?.message ?? '', /cluster log 42/);
        assert.match(found?.logStreamName ?? '', /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
      } finally {
        logs.destroy();
      }
    }
    const outsider = new CloudWatchLogsClient({ endpoint: url(1), region: 'us-east-1', credentials: keyOf(b), maxAttempts: 1 });
    await assert.rejects(outsider.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/logger' })), (err: Error) => err.name === 'ResourceNotFoundException');
    outsider.destroy();

    const origin = new URL(url(1)).origin;
    const cookie = await consoleSession(url(1), keyOf(a));
    const listed = (await (await fetch(`${origin}/_stratus/console/api/environments`, { headers: { cookie } })).json()) as {
      workers: { workerId: string; environments: { functionName: string; state: string }[] }[];
    };
    const mine = listed.workers.flatMap((w) => w.environments.map((e) => ({ worker: w.workerId, ...e }))).filter((e) => e.functionName === 'logger');
    assert.equal(mine.length, 1, JSON.stringify(listed));
    assert.ok(cluster.workers.some((w) => w.id === mine[0]?.worker), `listed on a worker of the cluster: ${mine[0]?.worker}`);
    assert.match(mine[0]?.state ?? '', /^(idle|frozen)$/);
  });

  it('a key deleted through one frontend is refused by the other', async () => {
    const made = await stratusAccounts(url(0), cluster.credentials, ['keys', 'create', b.AccountId]);
    assert.equal(made.code, 0, made.stderr);
    const second = JSON.parse(made.stdout) as AccountKey;
    const deleted = await stratusAccounts(url(0), cluster.credentials, ['keys', 'delete', b.AccountId, b.AccessKeyId]);
    assert.equal(deleted.code, 0, deleted.stderr);
    await eventually(() => expectLambdaError(clientFor(url(1), keyOf(b)).send(new ListFunctionsCommand({})), 'UnrecognizedClientException', 403));
    await eventually(() => clientFor(url(1), keyOf(second)).send(new ListFunctionsCommand({})));
  });
});
