// Queued async events survive a crash: events wait behind a slow function, Stratus is killed
// with SIGKILL, restarted on the same data directory, and every event is still delivered (at
// least once), as the OnSuccess records of a recorder function show.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CreateFunctionCommand, GetFunctionEventInvokeConfigCommand, InvokeCommand, PutFunctionEventInvokeConfigCommand } from '@aws-sdk/client-lambda';
import { RECORDER, recordsIn, until } from '../helpers/async-records.js';
import { isAlive, startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:';
const SLOW = `exports.handler = async (event) => { await new Promise((r) => setTimeout(r, 1500)); return { n: event.n }; };`;
const EVENTS = 8;
const ARGS = ['--event-claim-ms', '2000', '--function-logs', 'stdout'];

describe('async events across a SIGKILL of the single machine', () => {
  const started: StratusProcess[] = [];
  let dataDir = '';
  after(async () => {
    for (const s of started) await s.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('every accepted event is delivered after a restart on the same data directory', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'stratus-async-restart-'));
    const credentials = { accessKeyId: 'AKIASTRATUSRESTART', secretAccessKey: 'restart-secret' };
    const first = await startStratus({ dataDir, credentials, args: ARGS });
    started.push(first);
    for (const [name, code] of [['slow', SLOW], ['recorder', RECORDER]] as const) {
      await first.lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: await makeZip({ 'index.js': code }) } }));
    }
    await first.lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'slow', DestinationConfig: { OnSuccess: { Destination: `${ARN}recorder` } } }));
    const ids: string[] = [];
    for (let n = 0; n < EVENTS; n++) {
      const out = await first.lambda.send(new InvokeCommand({ FunctionName: 'slow', InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ n })) }));
      assert.equal(out.StatusCode, 202);
      ids.push(out.$metadata.requestId ?? '');
    }
    // Kill while events run (claimed by the process that dies) and others wait unclaimed.
    await until(() => /\[slow\] START RequestId/.test(first.output()), 'the first event to start', 20_000);
    const sandboxes = await first.descendants();
    await first.kill();
    const deliveredBefore = new Set(recordsIn(first.output()).map((r) => (r.requestContext as { requestId: string }).requestId));
    assert.ok(deliveredBefore.size < EVENTS, `some events were still queued at the kill (${deliveredBefore.size} of ${EVENTS} delivered)`);
    await until(() => sandboxes.every((pid) => !isAlive(pid)), 'the sandboxes of the killed Stratus to exit', 10_000);

    const second = await startStratus({ dataDir, credentials, args: ARGS });
    started.push(second);
    const config = await second.lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'slow' }));
    assert.deepEqual(config.DestinationConfig?.OnSuccess, { Destination: `${ARN}recorder` }, 'functions and their config survived too');
    const delivered = await until(() => {
      const seen = new Set(recordsIn(first.output(), second.output()).map((r) => (r.requestContext as { requestId: string }).requestId));
      return ids.every((id) => seen.has(id)) && seen;
    }, 'every event to be delivered after the restart', 60_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n--- before the kill:\n${first.output()}\n--- after the restart:\n${second.output()}`);
    });
    assert.deepEqual([...ids].filter((id) => !delivered.has(id)), []);
    const payloads = recordsIn(first.output(), second.output()).map((r) => (r.responsePayload as { n: number }).n);
    assert.deepEqual([...new Set(payloads)].sort((a, b) => a - b), [...Array(EVENTS).keys()]);
  });
});
