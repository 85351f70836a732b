// Bad input that must get Lambda's 4xx, never a service error: request paths with malformed
// percent-escapes on every kind of route (signed for real with SigV4, since the AWS CLI and SDK
// never send such a path), and an EphemeralStorage size out of Lambda's range on create and on
// update, which must store nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateFunctionCommand, GetFunctionConfigurationCommand, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { ARN_PREFIX, createInput, expectLambdaError, handlerZip, invokeJson } from '../helpers/lambda-api.js';

const PREFIX = '1 validation error detected: ';
const BAD_PATH = 'The request path is not valid percent-encoding.';

/** A request signed with the caller's key for `service`, sent as it is (path bytes untouched). */
async function signed(stratus: StratusProcess, method: string, path: string, opts: { service?: string; body?: unknown } = {}): Promise<Response> {
  const signer = new SignatureV4({ credentials: stratus.credentials, region: 'us-east-1', service: opts.service ?? 'lambda', sha256: Sha256 });
  const url = new URL(stratus.url);
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string> = { host: url.host, ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
  const request = new HttpRequest({ method, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path, headers, ...(body === undefined ? {} : { body }) });
  const out = (await signer.sign(request)) as HttpRequest;
  const sent = Object.fromEntries(Object.entries(out.headers).filter(([k]) => k.toLowerCase() !== 'host'));
  return fetch(`${stratus.url}${path}`, { method, headers: sent, ...(body === undefined ? {} : { body }) });
}

describe('bad input gets Lambda 4xx errors, not service errors', () => {
  let stratus: StratusProcess;
  before(async () => {
    stratus = await startStratus();
    await stratus.lambda.send(new CreateFunctionCommand(createInput('existing', await handlerZip('bad-input'))));
  });
  after(async () => {
    await stratus?.stop();
  });

  const lambdaPaths: [method: string, path: string][] = [
    ['POST', '/2015-03-31/functions/%E0%A4%A/invocations'],
    ['POST', '/2015-03-31/functions/%zz/invocations'],
    ['POST', '/2021-11-15/functions/%zz/response-streaming-invocations'],
    ['GET', '/2015-03-31/functions/%zz'],
    ['DELETE', '/2015-03-31/functions/existing%zz'],
    ['GET', '/2015-03-31/functions/existing/aliases/%zz'],
    ['GET', '/2015-03-31/functions/%zz/versions'],
    ['GET', '/2015-03-31/functions/%zz/policy'],
    ['DELETE', '/2015-03-31/functions/existing/policy/%zz'],
    ['GET', '/2017-03-31/tags/%zz'],
    ['GET', '/2018-10-31/layers/%zz/versions'],
    ['GET', '/2019-09-25/functions/%zz/event-invoke-config'],
    ['GET', '/2019-09-30/functions/%zz/provisioned-concurrency'],
    ['GET', '/2021-10-31/functions/%zz/url'],
    ['PUT', '/2017-10-31/functions/%zz/concurrency'],
  ];
  for (const [method, path] of lambdaPaths) {
    it(`${method} ${path} is a 400 ValidationException`, async () => {
      const res = await signed(stratus, method, path);
      const body = await res.text();
      assert.equal(res.status, 400, body);
      assert.equal(res.headers.get('x-amzn-errortype'), 'ValidationException');
      assert.deepEqual(JSON.parse(body), { message: BAD_PATH });
    });
  }

  it('a scheduler path with a malformed escape is the Scheduler ValidationException', async () => {
    const res = await signed(stratus, 'GET', '/schedule-groups/%zz', { service: 'scheduler' });
    const body = await res.text();
    assert.equal(res.status, 400, body);
    assert.equal(res.headers.get('x-amzn-errortype'), 'ValidationException');
    assert.deepEqual(JSON.parse(body), { Message: BAD_PATH });
  });

  it('after all of them the API still serves the function', async () => {
    assert.equal((await invokeJson(stratus.lambda, 'existing', { ok: 1 })).tag, 'bad-input');
  });

  const outOfRange: [size: number, constraint: string][] = [
    [511, 'Member must have value greater than or equal to 512'],
    [10241, 'Member must have value less than or equal to 10240'],
  ];
  for (const [size, constraint] of outOfRange) {
    it(`EphemeralStorage ${size} is a ValidationException on create and on update, and stores nothing`, async () => {
      const message = `${PREFIX}Value '${size}' at 'ephemeralStorage.size' failed to satisfy constraint: ${constraint}`;
      await expectLambdaError(
        stratus.lambda.send(new CreateFunctionCommand(createInput(`eph-${size}`, await handlerZip('eph'), { EphemeralStorage: { Size: size } }))),
        'ValidationException', 400, message,
      );
      await expectLambdaError(stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: `eph-${size}` })), 'ResourceNotFoundException', 404,
        `Function not found: ${ARN_PREFIX}eph-${size}`);
      const before = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'existing' }));
      await expectLambdaError(
        stratus.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'existing', EphemeralStorage: { Size: size } })),
        'ValidationException', 400, message,
      );
      const after = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'existing' }));
      assert.deepEqual([after.RevisionId, after.EphemeralStorage?.Size], [before.RevisionId, 512]);
    });
  }

  it('an EphemeralStorage size that is not an integer is a ValidationException and stores nothing', async () => {
    for (const size of [1024.5, 'big']) {
      const res = await signed(stratus, 'PUT', '/2015-03-31/functions/existing/configuration', { body: { EphemeralStorage: { Size: size } } });
      const body = await res.text();
      assert.equal(res.status, 400, body);
      assert.equal(res.headers.get('x-amzn-errortype'), 'ValidationException');
      assert.deepEqual(JSON.parse(body), { message: `${PREFIX}Value '${size}' at 'ephemeralStorage.size' failed to satisfy constraint: Member must be an integer` });
    }
    assert.equal((await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'existing' }))).EphemeralStorage?.Size, 512);
  });

  it('an EphemeralStorage without its Size is a ValidationException (Size is required) and stores nothing', async () => {
    const res = await signed(stratus, 'PUT', '/2015-03-31/functions/existing/configuration', { body: { EphemeralStorage: {} } });
    const body = await res.text();
    assert.equal(res.status, 400, body);
    assert.equal(res.headers.get('x-amzn-errortype'), 'ValidationException');
    assert.deepEqual(JSON.parse(body), { message: `${PREFIX}Value null at 'ephemeralStorage.size' failed to satisfy constraint: Member must not be null` });
    assert.equal((await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'existing' }))).EphemeralStorage?.Size, 512);
  });
});
