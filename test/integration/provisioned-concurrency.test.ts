// Provisioned concurrency: environments of a published version initialized ahead of traffic
// and kept past the keep-alive; invokes on them report no Init Duration and see
// AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateFunctionCommand, DeleteProvisionedConcurrencyConfigCommand, GetProvisionedConcurrencyConfigCommand, InvokeCommand,
  ListProvisionedConcurrencyConfigsCommand, PublishVersionCommand, PutProvisionedConcurrencyConfigCommand,
} from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const CODE = `exports.handler = async () => ({ initType: process.env.AWS_LAMBDA_INITIALIZATION_TYPE, pid: process.pid });`;

async function sandboxCount(s: StratusProcess): Promise<number> {
  return (await s.descendants()).length;
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('provisioned concurrency', () => {
  let s: StratusProcess;
  before(async () => {
    s = await startStratus({ keepAliveMs: 1000 });
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'pc', Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler',
      Code: { ZipFile: await makeZip({ 'index.js': CODE }) },
    }));
    await s.lambda.send(new PublishVersionCommand({ FunctionName: 'pc' }));
  });
  after(() => s.stop());

  test('$LATEST is refused and a missing config is ProvisionedConcurrencyConfigNotFoundException', async () => {
    await assert.rejects(s.lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: '$LATEST', ProvisionedConcurrentExecutions: 1 })), {
      name: 'InvalidParameterValueException', message: 'Provisioned Concurrency Configs cannot be applied to unpublished function versions.',
    });
    await assert.rejects(s.lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: '1' })), {
      name: 'ProvisionedConcurrencyConfigNotFoundException',
    });
  });

  test('environments are initialized ahead of traffic, kept past the keep-alive, and serve invokes warm', async () => {
    const put = await s.lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: '1', ProvisionedConcurrentExecutions: 2 }));
    assert.equal(put.RequestedProvisionedConcurrentExecutions, 2);
    await until(async () => (await s.lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: '1' }))).Status === 'READY', 'READY');
    // READY counts environments whose sandbox runs; their processes may still be starting.
    let last = -1;
    await until(async () => {
      const now = await sandboxCount(s);
      const settled = now > 0 && now === last;
      last = now;
      return settled;
    }, 'sandboxes before any invoke');
    const before = last;
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(await sandboxCount(s), before, 'provisioned environments outlive the 1 s keep-alive');

    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'pc', Qualifier: '1', LogType: 'Tail' }));
    const body = JSON.parse(Buffer.from(out.Payload ?? []).toString()) as { initType: string };
    const log = Buffer.from(out.LogResult ?? '', 'base64').toString();
    assert.equal(body.initType, 'provisioned-concurrency');
    assert.match(log, /REPORT RequestId/);
    assert.doesNotMatch(log, /Init Duration/, 'no init on the invoke path');
    assert.equal(await sandboxCount(s), before, 'no new sandbox for the invoke');

    const list = await s.lambda.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: 'pc' }));
    assert.deepEqual(list.ProvisionedConcurrencyConfigs?.map((c) => [c.FunctionArn, c.AllocatedProvisionedConcurrentExecutions]), [
      ['arn:aws:lambda:us-east-1:000000000000:function:pc:1', 2],
    ]);
  });

  test('deleting the config lets the environments go', async () => {
    await s.lambda.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: 'pc', Qualifier: '1' }));
    await until(async () => (await sandboxCount(s)) === 0, 'the provisioned sandboxes to be reclaimed');
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'pc', Qualifier: '1' }));
    assert.equal((JSON.parse(Buffer.from(out.Payload ?? []).toString()) as { initType: string }).initType, 'on-demand');
  });
});
