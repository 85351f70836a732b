// Function URLs: configuration through the real SDK v3 and AWS CLI v2, and plain HTTP requests to
// the URL against a real `stratus up` (payload format 2.0 in, the function's response object out),
// AWS_IAM signatures, CORS, alias URLs and Lambda's errors.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AddPermissionCommand, CreateAliasCommand, CreateFunctionCommand, CreateFunctionUrlConfigCommand, DeleteFunctionUrlConfigCommand, GetFunctionUrlConfigCommand,
  ListFunctionUrlConfigsCommand, PublishVersionCommand, UpdateFunctionUrlConfigCommand, type FunctionUrlConfig,
} from '@aws-sdk/client-lambda';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';
import { aws } from '../helpers/aws-cli.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { ARN_PREFIX, LAST_MODIFIED, createInput, expectLambdaError } from '../helpers/lambda-api.js';
import { makeZip } from '../helpers/zip.js';

/** Echoes the event, shaped by what the request asks for (query `mode`). */
const HANDLER = `exports.handler = async (event, context) => {
  const mode = (event.queryStringParameters || {}).mode;
  if (mode === 'fail') throw new Error('boom');
  if (mode === 'plain') return { plain: true, arn: context.invokedFunctionArn };
  if (mode === 'binary') return { statusCode: 200, headers: { 'content-type': 'image/png' }, body: Buffer.from([137, 80, 78, 71]).toString('base64'), isBase64Encoded: true };
  return {
    statusCode: 201,
    headers: { 'Content-Type': 'application/json', 'X-Custom': 'custom value', 'Access-Control-Allow-Origin': 'https://function.example' },
    cookies: ['a=1; Path=/', 'b=2; Max-Age=60'],
    body: JSON.stringify({ event, arn: context.invokedFunctionArn, version: context.functionVersion }),
  };
};\n`;

interface Echo {
  event: {
    rawPath: string; rawQueryString: string; body?: string; isBase64Encoded: boolean; cookies?: string[];
    headers: Record<string, string>; queryStringParameters?: Record<string, string>;
    requestContext: { http: { method: string; path: string }; authorizer?: { iam: { accessKey: string } }; requestId: string };
  };
  arn: string;
  version: string;
}

async function cliJson<T>(s: StratusProcess, args: string[]): Promise<T> {
  const r = await aws(s, ['lambda', ...args]);
  assert.equal(r.code, 0, `aws lambda ${args[0]} failed: ${r.stderr}`);
  return r.stdout.trim() ? (JSON.parse(r.stdout) as T) : (undefined as T);
}

/** A request to `url` signed like an AWS SigV4 client signs it for service `lambda`. */
async function signed(
  s: StratusProcess, url: string, init: { method: string; body?: string; secret?: string; presign?: boolean; tamper?: (url: string) => string },
): Promise<Response> {
  const u = new URL(url);
  const signer = new SignatureV4({
    credentials: { accessKeyId: s.credentials.accessKeyId, secretAccessKey: init.secret ?? s.credentials.secretAccessKey },
    region: 'us-east-1', service: 'lambda', sha256: Sha256,
  });
  const request = new HttpRequest({
    method: init.method, protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: u.pathname,
    query: Object.fromEntries(u.searchParams), headers: { host: u.host, ...(init.body ? { 'content-type': 'application/json' } : {}) }, body: init.body,
  });
  const done = (init.presign ? await signer.presign(request, { expiresIn: 300 }) : await signer.sign(request)) as HttpRequest;
  const query = new URLSearchParams(done.query as Record<string, string>).toString();
  const headers = Object.fromEntries(Object.entries(done.headers).filter(([k]) => k.toLowerCase() !== 'host'));
  const target = `${u.origin}${u.pathname}${query ? `?${query}` : ''}`;
  return fetch(init.tamper ? init.tamper(target) : target, { method: init.method, headers, body: init.body });
}

describe('function URLs', () => {
  let stratus: StratusProcess;
  let url = '';
  before(async () => {
    stratus = await startStratus();
    await stratus.lambda.send(new CreateFunctionCommand(createInput('web', await makeZip({ 'index.js': HANDLER }))));
  });
  after(() => stratus?.stop());

  it('CLI create-function-url-config returns a FunctionUrl on this Stratus; as in Lambda, a NONE URL answers once the policy grants public access', async () => {
    const created = await cliJson<FunctionUrlConfig>(stratus, ['create-function-url-config', '--function-name', 'web', '--auth-type', 'NONE']);
    url = created.FunctionUrl ?? '';
    assert.equal(url, `${stratus.url}/lambda-url/000000000000/web/`);
    assert.deepEqual([created.AuthType, created.FunctionArn], ['NONE', `${ARN_PREFIX}web`]);
    assert.match(created.CreationTime ?? '', LAST_MODIFIED);
    const closed = await fetch(url);
    assert.deepEqual([closed.status, await closed.json()], [403, { Message: 'Forbidden' }], 'no policy: nobody gets in');
    await cliJson(stratus, ['add-permission', '--function-name', 'web', '--statement-id', 'iam-only', '--action', 'lambda:InvokeFunctionUrl',
      '--principal', '*', '--function-url-auth-type', 'AWS_IAM']);
    assert.equal((await fetch(url)).status, 403, 'a statement conditioned on AWS_IAM does not open a NONE URL');
    await cliJson(stratus, ['add-permission', '--function-name', 'web', '--statement-id', 'public', '--action', 'lambda:InvokeFunctionUrl',
      '--principal', '*', '--function-url-auth-type', 'NONE']);
    const res = await fetch(url);
    assert.equal(res.status, 201);
  });

  it('an HTTP request becomes the payload 2.0 event; the response object becomes the HTTP response', async () => {
    const res = await fetch(`${url}some/path?x=1&x=2&y=%20z`, {
      method: 'POST', body: '{"hello":"world"}', headers: { 'content-type': 'application/json', cookie: 'c1=v1; c2=v2', 'x-test': 'yes' },
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('x-custom'), 'custom value');
    assert.deepEqual(res.headers.getSetCookie(), ['a=1; Path=/', 'b=2; Max-Age=60']);
    const { event, arn, version } = (await res.json()) as Echo;
    assert.deepEqual([event.rawPath, event.rawQueryString, event.body, event.isBase64Encoded], ['/some/path', 'x=1&x=2&y=%20z', '{"hello":"world"}', false]);
    assert.deepEqual(event.queryStringParameters, { x: '1,2', y: ' z' });
    assert.deepEqual(event.cookies, ['c1=v1', 'c2=v2']);
    assert.equal(event.headers['x-test'], 'yes');
    assert.deepEqual([event.requestContext.http.method, event.requestContext.http.path], ['POST', '/some/path']);
    assert.equal(event.requestContext.authorizer, undefined);
    assert.deepEqual([arn, version], [`${ARN_PREFIX}web`, '$LATEST']);
  });

  it('infers a JSON response, decodes base64 bodies, and answers a function error with 502', async () => {
    const plain = await fetch(`${url}?mode=plain`);
    assert.deepEqual([plain.status, plain.headers.get('content-type'), await plain.json()], [200, 'application/json', { plain: true, arn: `${ARN_PREFIX}web` }]);
    const binary = await fetch(`${url}?mode=binary`);
    assert.deepEqual([binary.headers.get('content-type'), Buffer.from(await binary.arrayBuffer())], ['image/png', Buffer.from([137, 80, 78, 71])]);
    const failed = await fetch(`${url}?mode=fail`);
    assert.deepEqual([failed.status, await failed.text()], [502, 'Internal Server Error']);
    const put = await fetch(url, { method: 'PUT', body: Buffer.from([0, 1, 2]), headers: { 'content-type': 'application/octet-stream' } });
    const { event } = (await put.json()) as Echo;
    assert.deepEqual([event.requestContext.http.method, event.body, event.isBase64Encoded], ['PUT', 'AAEC', true]);
  });

  it('AWS_IAM: unsigned or wrongly signed requests get 403 {"Message":"Forbidden"}; SigV4-signed ones run', async () => {
    const updated = await stratus.lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'AWS_IAM' }));
    assert.deepEqual([updated.AuthType, updated.FunctionUrl], ['AWS_IAM', url]);
    const unsigned = await fetch(url);
    assert.equal(unsigned.status, 403);
    assert.deepEqual(await unsigned.json(), { Message: 'Forbidden' });
    const wrong = await signed(stratus, `${url}path`, { method: 'GET', secret: 'not-the-secret' });
    assert.deepEqual([wrong.status, await wrong.json()], [403, { Message: 'Forbidden' }]);
    const ok = await signed(stratus, `${url}path?q=1`, { method: 'POST', body: '{"signed":true}' });
    assert.equal(ok.status, 201);
    const { event } = (await ok.json()) as Echo;
    assert.deepEqual([event.rawPath, event.body, event.requestContext.authorizer?.iam.accessKey], ['/path', '{"signed":true}', stratus.credentials.accessKeyId]);
    const presigned = await signed(stratus, `${url}p`, { method: 'GET', presign: true });
    assert.equal(presigned.status, 201);
    const tampered = await signed(stratus, `${url}p`, { method: 'GET', presign: true, tamper: (u) => u.replace('/p?', '/q?') });
    assert.equal(tampered.status, 403, 'a presigned URL is good for its own path only');
    await stratus.lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'NONE' }));
    assert.equal((await fetch(url)).status, 201);
  });

  it('CORS: Lambda answers the preflight and its configured headers win over the function\'s', async () => {
    await stratus.lambda.send(new UpdateFunctionUrlConfigCommand({
      FunctionName: 'web', Cors: { AllowOrigins: ['https://app.example'], AllowMethods: ['GET', 'POST'], AllowHeaders: ['x-test'], MaxAge: 300, ExposeHeaders: ['x-custom'] },
    }));
    const pre = await fetch(url, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 200);
    assert.deepEqual(
      ['access-control-allow-origin', 'access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age'].map((h) => pre.headers.get(h)),
      ['https://app.example', 'GET,POST', 'x-test', '300'],
    );
    const real = await fetch(url, { headers: { origin: 'https://app.example' } });
    assert.deepEqual([real.status, real.headers.get('access-control-allow-origin'), real.headers.get('access-control-expose-headers')], [201, 'https://app.example', 'x-custom']);
    const other = await fetch(url, { headers: { origin: 'https://other.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), 'https://function.example', 'a disallowed origin gets no CORS headers from Lambda');
  });

  it('an alias gets its own URL, running the alias\'s version under the alias ARN', async () => {
    await stratus.lambda.send(new PublishVersionCommand({ FunctionName: 'web' }));
    await stratus.lambda.send(new CreateAliasCommand({ FunctionName: 'web', Name: 'live', FunctionVersion: '1' }));
    const created = await stratus.lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'live', AuthType: 'NONE' }));
    assert.deepEqual([created.$metadata.httpStatusCode, created.FunctionUrl, created.FunctionArn], [201, `${stratus.url}/lambda-url/000000000000/web:live/`, `${ARN_PREFIX}web:live`]);
    assert.equal((await fetch(created.FunctionUrl ?? '')).status, 403, 'the function\'s public statement does not cover the alias');
    await stratus.lambda.send(new AddPermissionCommand({
      FunctionName: 'web', Qualifier: 'live', StatementId: 'public', Action: 'lambda:InvokeFunctionUrl', Principal: '*', FunctionUrlAuthType: 'NONE',
    }));
    const { arn, version } = (await (await fetch(created.FunctionUrl ?? '')).json()) as Echo;
    assert.deepEqual([arn, version], [`${ARN_PREFIX}web:live`, '1']);
    const list = await stratus.lambda.send(new ListFunctionUrlConfigsCommand({ FunctionName: 'web' }));
    assert.deepEqual(list.FunctionUrlConfigs?.map((c) => [c.FunctionArn, c.InvokeMode]), [[`${ARN_PREFIX}web`, 'BUFFERED'], [`${ARN_PREFIX}web:live`, 'BUFFERED']]);
    const cli = await cliJson<FunctionUrlConfig>(stratus, ['get-function-url-config', '--function-name', 'web', '--qualifier', 'live']);
    assert.deepEqual([cli.FunctionUrl, cli.AuthType], [created.FunctionUrl, 'NONE']);
    assert.match(cli.LastModifiedTime ?? '', LAST_MODIFIED);
  });

  it('answers bad configuration requests as Lambda does', async () => {
    const v = "1 validation error detected: Value '1' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)";
    await expectLambdaError(stratus.lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: '1', AuthType: 'NONE' })), 'ValidationException', 400, v);
    await expectLambdaError(stratus.lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'NONE' })), 'ResourceConflictException', 409,
      `Failed to create function url config for [functionArn = ${ARN_PREFIX}web]. Error message:  FunctionUrlConfig exists for this Lambda function`);
    await expectLambdaError(stratus.lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'nope', AuthType: 'NONE' })), 'ResourceNotFoundException', 404, 'Function does not exist');
    await expectLambdaError(stratus.lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'ghost', AuthType: 'NONE' })), 'ResourceNotFoundException', 404, 'Function does not exist');
    await expectLambdaError(stratus.lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'ghost' })), 'ResourceNotFoundException', 404, 'The resource you requested does not exist.');
    await expectLambdaError(stratus.lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'OPEN' as 'NONE' })), 'ValidationException', 400,
      "1 validation error detected: Value 'OPEN' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]");
    const missing = await fetch(`${stratus.url}/lambda-url/000000000000/nope/`);
    assert.equal(missing.status, 404);
  });

  it('DeleteFunctionUrlConfig (CLI) takes the URL away', async () => {
    await cliJson(stratus, ['delete-function-url-config', '--function-name', 'web', '--qualifier', 'live']);
    assert.equal((await fetch(`${stratus.url}/lambda-url/000000000000/web:live/`)).status, 404);
    await stratus.lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: 'web' }));
    assert.equal((await fetch(url)).status, 404);
    await expectLambdaError(stratus.lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: 'web' })), 'ResourceNotFoundException', 404, 'The resource you requested does not exist.');
  });
});
