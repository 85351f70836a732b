// Asynchronous invocation: the event-invoke-config API with Lambda's validation and errors,
// retries of a failing function ending at its OnFailure destination, and the invocation record
// an OnSuccess destination receives. Observed through the destination function's own log lines.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateAliasCommand, CreateFunctionCommand, DeleteAliasCommand, DeleteFunctionEventInvokeConfigCommand, GetFunctionEventInvokeConfigCommand, InvokeCommand,
  ListFunctionEventInvokeConfigsCommand, PutFunctionEventInvokeConfigCommand, UpdateFunctionEventInvokeConfigCommand,
} from '@aws-sdk/client-lambda';
import { RECORDER, recordsFor, until } from '../helpers/async-records.js';
import { aws } from '../helpers/aws-cli.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:';
const HELLO = `exports.handler = async (event) => ({ hello: event.name ?? 'world' });`;
const FAILING = `let n = 0; exports.handler = async (event) => { n++; throw new Error('attempt failed: ' + event.order); };`;

let s: StratusProcess;

async function createFunction(name: string, code: string): Promise<void> {
  await s.lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: await makeZip({ 'index.js': code }) } }));
}

async function invokeEvent(name: string, event: unknown): Promise<string> {
  const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(event)) }));
  assert.equal(out.StatusCode, 202);
  return out.$metadata.requestId ?? '';
}

describe('asynchronous invocation', () => {
  before(async () => {
    s = await startStratus({ args: ['--event-retry-delays-ms', '300,600', '--function-logs', 'stdout'] });
    await createFunction('hello', HELLO);
    await createFunction('failing', FAILING);
    await createFunction('recorder', RECORDER);
  });
  after(() => s.stop());

  test('event-invoke-config: put, get, update, list, delete, as Lambda shapes them', async () => {
    await assert.rejects(s.lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'hello' })), {
      name: 'ResourceNotFoundException', message: `The function ${ARN}hello:$LATEST doesn't have an EventInvokeConfig`,
    });
    const put = await s.lambda.send(new PutFunctionEventInvokeConfigCommand({
      FunctionName: 'hello', MaximumRetryAttempts: 1, DestinationConfig: { OnFailure: { Destination: `${ARN}recorder` } },
    }));
    assert.equal(put.FunctionArn, `${ARN}hello:$LATEST`);
    assert.equal(put.MaximumRetryAttempts, 1);
    assert.equal(put.MaximumEventAgeInSeconds, undefined);
    assert.deepEqual(put.DestinationConfig, { OnSuccess: {}, OnFailure: { Destination: `${ARN}recorder` } });
    assert.ok(put.LastModified instanceof Date && Math.abs(put.LastModified.getTime() - Date.now()) < 60_000);

    const updated = await s.lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'hello', MaximumEventAgeInSeconds: 3600 }));
    assert.equal(updated.MaximumRetryAttempts, 1, 'update keeps what it does not name');
    assert.equal(updated.MaximumEventAgeInSeconds, 3600);
    assert.deepEqual(updated.DestinationConfig?.OnFailure, { Destination: `${ARN}recorder` });
    const got = await s.lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: `${ARN}hello` }));
    assert.deepEqual({ ...got, $metadata: undefined }, { ...updated, $metadata: undefined });

    await s.lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'live', FunctionVersion: '$LATEST' }));
    await s.lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'hello', Qualifier: 'live', MaximumRetryAttempts: 0 }));
    const listed = await s.lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'hello' }));
    assert.deepEqual(listed.FunctionEventInvokeConfigs?.map((c) => [c.FunctionArn, c.MaximumRetryAttempts]), [[`${ARN}hello:$LATEST`, 1], [`${ARN}hello:live`, 0]]);

    const deleted = await s.lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'hello', Qualifier: 'live' }));
    assert.equal(deleted.$metadata.httpStatusCode, 204);
    await assert.rejects(s.lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'hello', Qualifier: 'live' })), { name: 'ResourceNotFoundException' });
    await s.lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'hello', Qualifier: 'live', MaximumRetryAttempts: 2 }));
    await s.lambda.send(new DeleteAliasCommand({ FunctionName: 'hello', Name: 'live' }));
    await s.lambda.send(new CreateAliasCommand({ FunctionName: 'hello', Name: 'live', FunctionVersion: '$LATEST' }));
    await assert.rejects(s.lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'hello', Qualifier: 'live' })), { name: 'ResourceNotFoundException' }, 'a deleted alias took its config with it');
    await s.lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'hello' }));
    assert.deepEqual((await s.lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'hello' }))).FunctionEventInvokeConfigs, []);
  });

  test('event-invoke-config: bad input gets Lambda\'s errors', async () => {
    const put = (input: Record<string, unknown>) => s.lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'hello', ...input }));
    await assert.rejects(put({ MaximumRetryAttempts: 3 }), {
      name: 'ValidationException', message: "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2",
    });
    await assert.rejects(put({ MaximumEventAgeInSeconds: 59 }), {
      name: 'ValidationException', message: "1 validation error detected: Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60",
    });
    await assert.rejects(put({ MaximumEventAgeInSeconds: 21601 }), { name: 'ValidationException' });
    await assert.rejects(put({}), { name: 'InvalidParameterValueException', message: 'You must specify at least one of error handling or destination setting.' });
    await assert.rejects(put({ DestinationConfig: { OnFailure: { Destination: 'not-an-arn' } } }), {
      name: 'ValidationException', message: /^1 validation error detected: Value 'not-an-arn' at 'destinationConfig.onFailure.destination' failed to satisfy constraint: Member must satisfy regular expression pattern/,
    });
    await assert.rejects(put({ DestinationConfig: { OnFailure: { Destination: 'arn:aws:sqs:us-east-1:000000000000:dlq' } } }), {
      name: 'InvalidParameterValueException', message: /arn:aws:sqs:us-east-1:000000000000:dlq is not supported: Stratus delivers OnFailure records only to Lambda functions, not to an Amazon SQS queue/,
    });
    await assert.rejects(put({ DestinationConfig: { OnSuccess: { Destination: 'arn:aws:sns:us-east-1:000000000000:topic' } } }), { name: 'InvalidParameterValueException', message: /SNS topic/ });
    await assert.rejects(put({ DestinationConfig: { OnSuccess: { Destination: `${ARN}nosuch` } } }), {
      name: 'InvalidParameterValueException', message: `The destination ARN ${ARN}nosuch is invalid.`,
    });
    await assert.rejects(put({ DestinationConfig: { OnSuccess: { Destination: `${ARN}hello` } } }), {
      name: 'InvalidParameterValueException', message: "You can't specify the function as a destination for itself.",
    });
    await assert.rejects(s.lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'nosuch', MaximumRetryAttempts: 1 })), {
      name: 'ResourceNotFoundException', message: "The function doesn't exist.",
    });
    await assert.rejects(put({ Qualifier: '42', MaximumRetryAttempts: 1 }), { name: 'ResourceNotFoundException' });
    await assert.rejects(s.lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'hello', MaximumRetryAttempts: 1 })), {
      name: 'ResourceNotFoundException', message: `The function ${ARN}hello:$LATEST doesn't have an EventInvokeConfig`,
    });
    await assert.rejects(s.lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'nosuch' })), { name: 'ResourceNotFoundException' });
  });

  test('the AWS CLI configures an OnFailure destination and reads it back', async () => {
    const put = await aws(s, ['lambda', 'put-function-event-invoke-config', '--function-name', 'failing', '--maximum-retry-attempts', '1',
      '--destination-config', JSON.stringify({ OnFailure: { Destination: `${ARN}recorder` } })]);
    assert.equal(put.code, 0, put.stderr);
    const got = await aws(s, ['lambda', 'get-function-event-invoke-config', '--function-name', 'failing']);
    assert.equal(got.code, 0, got.stderr);
    const config = JSON.parse(got.stdout) as Record<string, unknown>;
    assert.equal(config.FunctionArn, `${ARN}failing:$LATEST`);
    assert.equal(config.MaximumRetryAttempts, 1);
    assert.deepEqual(config.DestinationConfig, { OnSuccess: {}, OnFailure: { Destination: `${ARN}recorder` } });
    const bad = await aws(s, ['lambda', 'put-function-event-invoke-config', '--function-name', 'failing', '--destination-config',
      JSON.stringify({ OnFailure: { Destination: 'arn:aws:events:us-east-1:000000000000:event-bus/default' } })]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /InvalidParameterValueException.*EventBridge event bus/);
  });

  test('a failing function is retried, then its record goes to OnFailure (RetriesExhausted)', async () => {
    await s.lambda.send(new PutFunctionEventInvokeConfigCommand({
      FunctionName: 'failing', MaximumRetryAttempts: 1, DestinationConfig: { OnFailure: { Destination: `${ARN}recorder` } },
    }));
    const requestId = await invokeEvent('failing', { order: 17 });
    const [record] = await until(() => recordsFor(s, requestId).length > 0 && recordsFor(s, requestId), 'the OnFailure record');
    assert.ok(record);
    assert.deepEqual(record.requestContext, { requestId, functionArn: `${ARN}failing:$LATEST`, condition: 'RetriesExhausted', approximateInvokeCount: 2 });
    assert.deepEqual(record.requestPayload, { order: 17 });
    assert.deepEqual(record.responseContext, { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' });
    const response = record.responsePayload as Record<string, unknown>;
    assert.equal(response.errorType, 'Error');
    assert.equal(response.errorMessage, 'attempt failed: 17');
    assert.equal(record.version, '1.0');
    assert.equal((s.output().match(new RegExp(`${requestId}.*attempt failed`, 'g')) ?? []).length >= 2, true, 'the function ran twice');
  });

  test('a successful event sends Lambda\'s invocation record to OnSuccess', async () => {
    await s.lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'hello', DestinationConfig: { OnSuccess: { Destination: `${ARN}recorder` } } }));
    const before = Date.now();
    const requestId = await invokeEvent('hello', { name: 'async' });
    const [record] = await until(() => recordsFor(s, requestId).length > 0 && recordsFor(s, requestId), 'the OnSuccess record');
    assert.ok(record);
    assert.deepEqual(Object.keys(record).sort(), ['requestContext', 'requestPayload', 'responseContext', 'responsePayload', 'timestamp', 'version']);
    assert.equal(record.version, '1.0');
    const at = Date.parse(String(record.timestamp));
    assert.ok(at >= before - 1000 && at <= Date.now() + 1000, `timestamp ${String(record.timestamp)}`);
    assert.match(String(record.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(record.requestContext, { requestId, functionArn: `${ARN}hello:$LATEST`, condition: 'Success', approximateInvokeCount: 1 });
    assert.deepEqual(record.requestPayload, { name: 'async' });
    assert.deepEqual(record.responseContext, { statusCode: 200, executedVersion: '$LATEST' });
    assert.deepEqual(record.responsePayload, { hello: 'async' });
  });

  test('Event invokes of a missing function or with a bad payload fail at once, as in Lambda', async () => {
    await assert.rejects(s.lambda.send(new InvokeCommand({ FunctionName: 'nosuch', InvocationType: 'Event', Payload: Buffer.from('{}') })), { name: 'ResourceNotFoundException' });
    await assert.rejects(s.lambda.send(new InvokeCommand({ FunctionName: 'hello', InvocationType: 'Event', Payload: Buffer.from('{oops') })), { name: 'InvalidRequestContentException' });
  });
});
