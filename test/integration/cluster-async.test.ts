// Async invocations in a cluster: an Event invoke accepted by one frontend is in etcd; when that
// frontend is SIGKILLed while events run and wait, the other frontend delivers every event.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, GetFunctionEventInvokeConfigCommand, InvokeCommand, PutFunctionEventInvokeConfigCommand } from '@aws-sdk/client-lambda';
import { RECORDER, recordsIn, until } from '../helpers/async-records.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:';
const SLOW = `exports.handler = async (event) => { await new Promise((r) => setTimeout(r, 1500)); return { n: event.n }; };`;
const EVENTS = 6;

describe('async invocation in a cluster', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ functionLogs: 'stdout' });
  });
  after(() => cluster.stop());

  test('events accepted by a frontend that is then killed are delivered by the other one', async () => {
    const first = cluster.lambda(0, { maxAttempts: 1 });
    const second = cluster.lambda(1);
    for (const [name, code] of [['slow', SLOW], ['recorder', RECORDER]] as const) {
      await first.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: await makeZip({ 'index.js': code }) } }));
    }
    await first.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'slow', DestinationConfig: { OnSuccess: { Destination: `${ARN}recorder` } } }));
    // The second frontend follows the journal's watch: it knows the config within moments.
    for (let tries = 0; ; tries++) {
      const config = await second.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'slow' })).catch(() => undefined);
      if (config) break;
      assert.ok(tries < 50, 'the second frontend never saw the config');
      await new Promise((r) => setTimeout(r, 100));
    }
    const ids: string[] = [];
    for (let n = 0; n < EVENTS; n++) {
      const out = await first.send(new InvokeCommand({ FunctionName: 'slow', InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ n })) }));
      assert.equal(out.StatusCode, 202);
      ids.push(out.$metadata.requestId ?? '');
    }
    const workerOutput = () => cluster.workers.map((w) => w.output()).join('\n');
    await until(() => /\[slow\] START RequestId/.test(workerOutput()), 'the first event to start', 30_000);
    await cluster.frontends[0]?.kill();
    const delivered = await until(() => {
      const seen = new Set(recordsIn(workerOutput()).map((r) => (r.requestContext as { requestId: string }).requestId));
      return ids.every((id) => seen.has(id)) && seen;
    }, 'every event to be delivered', 90_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- second frontend:\n${cluster.frontends[1]?.output() ?? ''}\n--- workers:\n${workerOutput()}`);
    });
    assert.deepEqual(ids.filter((id) => !delivered.has(id)), []);
  });
});
