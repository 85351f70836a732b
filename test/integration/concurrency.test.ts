// Lambda's concurrency rules through the real SDK: reserved concurrency per function (0 blocks
// it), the account's limit shared by unreserved functions, 429 TooManyRequestsException with
// the matching Reason; nothing throttled ever reaches the function.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateFunctionCommand, DeleteFunctionConcurrencyCommand, GetAccountSettingsCommand, GetFunctionCommand, GetFunctionConcurrencyCommand,
  InvokeCommand, PutFunctionConcurrencyCommand, TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const CODE = `let runs = 0; exports.handler = async (e) => { runs++; await new Promise((r) => setTimeout(r, e.sleep ?? 0)); return { runs }; };`;

async function create(s: StratusProcess, name: string): Promise<void> {
  await s.lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: 'nodejs20.x', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler', Timeout: 10,
    Code: { ZipFile: await makeZip({ 'index.js': CODE }) },
  }));
}

/** Sends an invoke; resolves 'ok' or the throttling Reason. */
async function attempt(s: StratusProcess, name: string, sleep: number): Promise<string> {
  try {
    await s.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify({ sleep })) }));
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof TooManyRequestsException, `expected a 429, got ${String(err)}`);
    assert.equal(err.$metadata.httpStatusCode, 429);
    return err.Reason ?? 'no reason';
  }
}

describe('reserved concurrency', () => {
  let s: StratusProcess;
  before(async () => {
    s = await startStratus();
    await create(s, 'capped');
  });
  after(() => s.stop());

  test('put, get and delete, as Lambda shows them', async () => {
    assert.equal((await s.lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'capped' }))).ReservedConcurrentExecutions, undefined);
    const put = await s.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'capped', ReservedConcurrentExecutions: 1 }));
    assert.equal(put.ReservedConcurrentExecutions, 1);
    assert.equal((await s.lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'capped' }))).ReservedConcurrentExecutions, 1);
    assert.deepEqual((await s.lambda.send(new GetFunctionCommand({ FunctionName: 'capped' }))).Concurrency, { ReservedConcurrentExecutions: 1 });
    const account = await s.lambda.send(new GetAccountSettingsCommand({}));
    assert.equal(account.AccountLimit?.ConcurrentExecutions, 1000);
    assert.equal(account.AccountLimit?.UnreservedConcurrentExecutions, 999);
    await assert.rejects(s.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'capped', ReservedConcurrentExecutions: 901 })), {
      name: 'InvalidParameterValueException',
      message: "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].",
    });
    await assert.rejects(s.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'missing', ReservedConcurrentExecutions: 1 })), { name: 'ResourceNotFoundException' });
  });

  test('a function at its reserved concurrency gets 429 ReservedFunctionConcurrentInvocationLimitExceeded', async () => {
    await s.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'capped', ReservedConcurrentExecutions: 1 }));
    const outcomes = await Promise.all([attempt(s, 'capped', 1500), new Promise<string>((r) => setTimeout(() => r(attempt(s, 'capped', 0)), 400))]);
    assert.deepEqual(outcomes, ['ok', 'ReservedFunctionConcurrentInvocationLimitExceeded']);
    assert.equal(await attempt(s, 'capped', 0), 'ok', 'free again once the first one ended');
  });

  test('0 blocks every invoke; deleting the reservation lifts it', async () => {
    await s.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'capped', ReservedConcurrentExecutions: 0 }));
    assert.equal(await attempt(s, 'capped', 0), 'ReservedFunctionConcurrentInvocationLimitExceeded');
    await s.lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'capped' }));
    assert.equal(await attempt(s, 'capped', 0), 'ok');
  });
});

describe('account concurrency limit', () => {
  let s: StratusProcess;
  before(async () => {
    s = await startStratus({ args: ['--account-concurrency', '2'] });
    await create(s, 'a');
    await create(s, 'b');
  });
  after(() => s.stop());

  test('unreserved functions share the account limit; over it, 429 ConcurrentInvocationLimitExceeded', async () => {
    const first = attempt(s, 'a', 1500);
    const second = attempt(s, 'b', 1500);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await attempt(s, 'a', 0), 'ConcurrentInvocationLimitExceeded');
    assert.deepEqual(await Promise.all([first, second]), ['ok', 'ok']);
    assert.equal(await attempt(s, 'b', 0), 'ok');
  });
});
