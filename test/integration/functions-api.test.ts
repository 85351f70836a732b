// The function management API (create, get, list, update, delete) driven with the real AWS
// SDK v3 and the real AWS CLI v2 against a real `stratus up`. Errors and auth: functions-api-errors.test.ts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateFunctionCommand, DeleteFunctionCommand, GetFunctionCommand, GetFunctionConfigurationCommand, ListFunctionsCommand,
  UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand, paginateListFunctions, type FunctionConfiguration,
} from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import {
  ARN_PREFIX, LAST_MODIFIED, ROLE, createInput, doc, expectLambdaError, handlerZip, invokeJson, sha256b64, signedFetch, startOnDataDir,
} from '../helpers/lambda-api.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Runs the CLI, requires success and parses its JSON output. */
async function cliJson<T>(stratus: StratusProcess, args: string[]): Promise<T> {
  const r = await aws(stratus, ['lambda', ...args]);
  assert.equal(r.code, 0, `aws lambda ${args[0]} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** The fields named in `expected` have those values in `actual`. */
function assertFields(actual: object, expected: Record<string, unknown>): void {
  const picked = Object.fromEntries(Object.keys(expected).map((k) => [k, (actual as Record<string, unknown>)[k]]));
  assert.deepEqual(picked, expected);
}

/** LastModified lies between two instants (ms precision, server and test share the clock). */
function assertModifiedBetween(lastModified: string | undefined, from: number, to: number): void {
  assert.match(lastModified ?? '', LAST_MODIFIED);
  const at = Date.parse((lastModified ?? '').replace('+0000', 'Z'));
  assert.ok(at >= from && at <= to, `LastModified ${lastModified} not within the request`);
}

async function fetchBytes(url: string): Promise<{ status: number; bytes: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
}

describe('functions API: create, get, list, delete', () => {
  let stratus: StratusProcess;
  let tmp: string;
  let sdkZip: Buffer;
  before(async () => {
    stratus = await startStratus();
    tmp = await mkdtemp(join(tmpdir(), 'stratus-fnapi-'));
    sdkZip = await handlerZip('sdk');
  });
  after(async () => {
    await stratus?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('CLI create-function --zip-file fileb:// returns the Lambda configuration', async () => {
    const zip = await handlerZip('cli');
    const path = join(tmp, 'cli.zip');
    await writeFile(path, zip);
    const t0 = Date.now();
    const out = await cliJson<FunctionConfiguration>(stratus, [
      'create-function', '--function-name', 'cli-fn', '--runtime', 'nodejs20.x', '--handler', 'index.handler', '--role', ROLE,
      '--memory-size', '256', '--timeout', '10', '--description', 'made by the cli',
      '--environment', 'Variables={GREETING=hello,OTHER=x}', '--zip-file', `fileb://${path}`,
    ]);
    assertModifiedBetween(out.LastModified, t0 - 1, Date.now());
    assert.match(out.RevisionId ?? '', UUID);
    assertFields(out, {
      FunctionName: 'cli-fn', FunctionArn: `${ARN_PREFIX}cli-fn`, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler',
      CodeSize: zip.length, CodeSha256: sha256b64(zip), Description: 'made by the cli', Timeout: 10, MemorySize: 256,
      Version: '$LATEST', State: 'Active', PackageType: 'Zip', Environment: { Variables: { GREETING: 'hello', OTHER: 'x' } },
    });
  });

  it('SDK CreateFunction answers 201 with the configuration, and the function runs', async () => {
    const t0 = Date.now();
    const out = await stratus.lambda.send(new CreateFunctionCommand(createInput('sdk-fn', sdkZip, {
      MemorySize: 512, Timeout: 5, Description: 'made by the sdk', Environment: { Variables: { GREETING: 'hi' } },
    })));
    assert.equal(out.$metadata.httpStatusCode, 201);
    assert.match(out.RevisionId ?? '', UUID);
    assertModifiedBetween(out.LastModified, t0 - 1, Date.now());
    assertFields(out, {
      FunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:sdk-fn', CodeSha256: sha256b64(sdkZip), CodeSize: sdkZip.length,
      Version: '$LATEST', State: 'Active', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, MemorySize: 512, Timeout: 5,
      Description: 'made by the sdk', Environment: { Variables: { GREETING: 'hi' } },
    });
    const result = await invokeJson(stratus.lambda, 'sdk-fn', { n: 1 });
    assert.deepEqual([result.tag, result.event, result.greeting, result.memoryLimitInMB], ['sdk', { n: 1 }, 'hi', '512']);
  });

  it('GetFunction returns the configuration and a Code.Location that serves the zip', async () => {
    const got = await stratus.lambda.send(new GetFunctionCommand({ FunctionName: 'sdk-fn' }));
    const config = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'sdk-fn' }));
    assert.deepEqual(got.Configuration, doc(config));
    assert.equal(config.CodeSha256, sha256b64(sdkZip));
    assert.equal(config.State, 'Active');
    assert.equal(config.LastUpdateStatus, 'Successful');
    assert.equal(got.Code?.RepositoryType, 'S3');
    const download = await fetchBytes(got.Code?.Location ?? '');
    assert.equal(download.status, 200);
    assert.ok(download.bytes.equals(sdkZip), 'downloaded bytes equal the uploaded zip');
    const byArn = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: `${ARN_PREFIX}sdk-fn` }));
    assert.equal(byArn.RevisionId, config.RevisionId);
  });

  it('a tampered or re-dated code link is refused', async () => {
    const got = await stratus.lambda.send(new GetFunctionCommand({ FunctionName: 'sdk-fn' }));
    const url = new URL(got.Code?.Location ?? '');
    const sig = url.searchParams.get('sig') ?? '';
    const tampered = new URL(url);
    tampered.searchParams.set('sig', `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`);
    const redated = new URL(url);
    redated.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3_600_000));
    const unsigned = new URL(url);
    unsigned.search = '';
    // A hex decoder stops at the first character that is not hex: the signature must be compared as sent.
    const padded = new URL(url);
    padded.searchParams.set('sig', `${sig}zz`);
    const upper = new URL(url);
    upper.searchParams.set('sig', sig.toUpperCase());
    for (const bad of [tampered, redated, unsigned, padded, upper]) {
      const res = await fetchBytes(bad.toString());
      assert.equal(res.status, 403, `${bad.search} must be refused`);
      assert.ok(!res.bytes.includes(Buffer.from('index.mjs')), 'no zip content in the refusal');
    }
  });

  it('ListFunctions via the SDK and the CLI shows both functions', async () => {
    const sdk = await stratus.lambda.send(new ListFunctionsCommand({}));
    assert.deepEqual(sdk.Functions?.map((f) => f.FunctionName), ['cli-fn', 'sdk-fn']);
    assert.equal(sdk.NextMarker, undefined);
    const cli = await cliJson<{ Functions: FunctionConfiguration[] }>(stratus, ['list-functions']);
    assert.deepEqual(cli.Functions.map((f) => [f.FunctionName, f.CodeSha256]), sdk.Functions?.map((f) => [f.FunctionName, f.CodeSha256]));
  });

  it('a signed GET of /functions and /functions/ lists the functions, without state fields', async () => {
    for (const path of ['/2015-03-31/functions', '/2015-03-31/functions/']) {
      const res = await signedFetch(stratus, 'GET', path);
      assert.equal(res.status, 200, `${path}: ${res.headers.get('x-amzn-errortype') ?? ''}`);
      assert.match(res.headers.get('x-amzn-requestid') ?? '', UUID);
      const body = (await res.json()) as { Functions: Record<string, unknown>[]; NextMarker?: string };
      assert.deepEqual(body.Functions.map((f) => f.FunctionName), ['cli-fn', 'sdk-fn']);
      assert.equal('NextMarker' in body, false, 'no NextMarker on the last page');
      for (const f of body.Functions) {
        assert.equal(f.State, undefined);
        assert.equal(f.LastUpdateStatus, undefined);
        assert.match(String(f.CodeSha256), /^[A-Za-z0-9+/]{43}=$/);
      }
    }
  });

  it('a qualified get of an unpublished version is refused, its delete is a no-op (as in Lambda), and the function stays', async () => {
    const v1 = `Function not found: ${ARN_PREFIX}cli-fn:1`;
    await expectLambdaError(stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'cli-fn', Qualifier: '1' })), 'ResourceNotFoundException', 404, v1);
    await expectLambdaError(stratus.lambda.send(new GetFunctionCommand({ FunctionName: 'cli-fn:1' })), 'ResourceNotFoundException', 404, v1);
    const noop = await stratus.lambda.send(new DeleteFunctionCommand({ FunctionName: 'cli-fn', Qualifier: '1' }));
    assert.equal(noop.$metadata.httpStatusCode, 204);
    await expectLambdaError(stratus.lambda.send(new DeleteFunctionCommand({ FunctionName: 'cli-fn', Qualifier: '$LATEST' })), 'InvalidParameterValueException', 400,
      '$LATEST version cannot be deleted without deleting the function.');
    const latest = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'cli-fn', Qualifier: '$LATEST' }));
    assert.equal(latest.Version, '$LATEST');
  });

  it('DeleteFunction removes it: SDK and CLI then get ResourceNotFoundException', async () => {
    const del = await stratus.lambda.send(new DeleteFunctionCommand({ FunctionName: 'cli-fn' }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    const message = 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:cli-fn';
    await expectLambdaError(stratus.lambda.send(new GetFunctionCommand({ FunctionName: 'cli-fn' })), 'ResourceNotFoundException', 404, message);
    const cli = await aws(stratus, ['lambda', 'get-function', '--function-name', 'cli-fn']);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /ResourceNotFoundException/);
    assert.ok(cli.stderr.includes(message), cli.stderr);
    const raw = await signedFetch(stratus, 'GET', '/2015-03-31/functions/cli-fn/configuration');
    assert.equal(raw.headers.get('x-amzn-errortype'), 'ResourceNotFoundException');
    assert.deepEqual(await raw.json(), { Type: 'User', Message: message }, 'Lambda spells it "Message" here');
    const again = await aws(stratus, ['lambda', 'delete-function', '--function-name', 'cli-fn']);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /ResourceNotFoundException/);
    const list = await stratus.lambda.send(new ListFunctionsCommand({}));
    assert.deepEqual(list.Functions?.map((f) => f.FunctionName), ['sdk-fn']);
  });
});

describe('functions API: ListFunctions pagination', () => {
  const names = Array.from({ length: 53 }, (_, i) => `page-${String(i).padStart(2, '0')}`);
  let stratus: StratusProcess;
  before(async () => {
    stratus = await startStratus();
    const zip = await handlerZip('page');
    for (const name of [...names].reverse()) await stratus.lambda.send(new CreateFunctionCommand(createInput(name, zip)));
  });
  after(async () => {
    await stratus?.stop();
  });

  it('MaxItems and Marker walk every function once, sorted, with no NextMarker on the last page', async () => {
    const seen: string[] = [];
    const sizes: number[] = [];
    let marker: string | undefined;
    do {
      const page = await stratus.lambda.send(new ListFunctionsCommand({ MaxItems: 20, Marker: marker }));
      sizes.push(page.Functions?.length ?? 0);
      seen.push(...(page.Functions ?? []).map((f) => f.FunctionName ?? ''));
      marker = page.NextMarker;
    } while (marker !== undefined && sizes.length < 10);
    assert.deepEqual(sizes, [20, 20, 13]);
    assert.deepEqual(seen, names);
  });

  it('a page holds at most 50 functions, as in Lambda', async () => {
    const page = await stratus.lambda.send(new ListFunctionsCommand({ MaxItems: 1000 }));
    assert.equal(page.Functions?.length, 50);
    assert.equal(page.NextMarker !== undefined, true);
    const rest = await stratus.lambda.send(new ListFunctionsCommand({ Marker: page.NextMarker }));
    assert.deepEqual(rest.Functions?.map((f) => f.FunctionName), names.slice(50));
  });

  it('the SDK paginator and the CLI (--page-size) collect all functions', async () => {
    const viaPaginator: string[] = [];
    for await (const page of paginateListFunctions({ client: stratus.lambda, pageSize: 7 }, {})) {
      assert.ok((page.Functions?.length ?? 0) <= 7);
      viaPaginator.push(...(page.Functions ?? []).map((f) => f.FunctionName ?? ''));
    }
    assert.deepEqual(viaPaginator, names);
    const cli = await cliJson<{ Functions: FunctionConfiguration[] }>(stratus, ['list-functions', '--page-size', '11']);
    assert.deepEqual(cli.Functions.map((f) => f.FunctionName), names);
  });
});

describe('functions API: updating code and configuration', () => {
  let stratus: StratusProcess;
  let tmp: string;
  before(async () => {
    stratus = await startStratus();
    tmp = await mkdtemp(join(tmpdir(), 'stratus-fnapi-'));
    await stratus.lambda.send(new CreateFunctionCommand(createInput('upd', await handlerZip('v1'), {
      Environment: { Variables: { GREETING: 'hello', OTHER: 'kept?' } },
    })));
  });
  after(async () => {
    await stratus?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('UpdateFunctionCode gives a new CodeSha256 and RevisionId, and the next invoke runs the new code', async () => {
    assert.equal((await invokeJson(stratus.lambda, 'upd')).tag, 'v1'); // leaves a warm environment behind
    const before = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'upd' }));
    const v2 = await handlerZip('v2');
    const out = await stratus.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'upd', ZipFile: v2 }));
    assert.equal(out.CodeSha256, sha256b64(v2));
    assert.notEqual(out.CodeSha256, before.CodeSha256);
    assert.equal(out.CodeSize, v2.length);
    assert.match(out.RevisionId ?? '', UUID);
    assert.notEqual(out.RevisionId, before.RevisionId);
    assert.equal((await invokeJson(stratus.lambda, 'upd')).tag, 'v2');
    const got = await stratus.lambda.send(new GetFunctionCommand({ FunctionName: 'upd' }));
    assert.ok((await fetchBytes(got.Code?.Location ?? '')).bytes.equals(v2), 'Code.Location serves the new zip');
  });

  it('CLI update-function-code --zip-file replaces the code too', async () => {
    const v3 = await handlerZip('v3');
    const path = join(tmp, 'v3.zip');
    await writeFile(path, v3);
    const out = await cliJson<FunctionConfiguration>(stratus, ['update-function-code', '--function-name', 'upd', '--zip-file', `fileb://${path}`]);
    assert.equal(out.CodeSha256, sha256b64(v3));
    assert.equal((await invokeJson(stratus.lambda, 'upd')).tag, 'v3');
  });

  it('UpdateFunctionConfiguration changes memory, timeout and environment, seen by get and by the function', async () => {
    const before = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'upd' }));
    assert.equal((await invokeJson(stratus.lambda, 'upd')).memoryLimitInMB, '128');
    const out = await stratus.lambda.send(new UpdateFunctionConfigurationCommand({
      FunctionName: 'upd', MemorySize: 256, Timeout: 7, Environment: { Variables: { GREETING: 'bonjour' } },
    }));
    assert.notEqual(out.RevisionId, before.RevisionId);
    assert.equal(out.CodeSha256, before.CodeSha256);
    const got = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'upd' }));
    assert.deepEqual([got.MemorySize, got.Timeout, got.Environment?.Variables], [256, 7, { GREETING: 'bonjour' }]);
    const seen = await invokeJson(stratus.lambda, 'upd');
    assert.deepEqual([seen.memoryLimitInMB, seen.memoryEnv, seen.greeting, seen.other], ['256', '256', 'bonjour', null]);
    assert.ok(seen.remainingMs > 6000 && seen.remainingMs <= 7000, `remaining time ${seen.remainingMs} ms under a 7 s timeout`);
    const cli = await cliJson<FunctionConfiguration>(stratus, ['update-function-configuration', '--function-name', 'upd', '--description', 'from cli']);
    assert.deepEqual([cli.Description, cli.MemorySize], ['from cli', 256]);
  });

  it('a wrong RevisionId is refused with 412 PreconditionFailedException and changes nothing', async () => {
    const current = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'upd' }));
    const message = 'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id';
    const stale = '00000000-0000-4000-8000-000000000000';
    await expectLambdaError(stratus.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'upd', MemorySize: 1024, RevisionId: stale })),
      'PreconditionFailedException', 412, message);
    await expectLambdaError(stratus.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'upd', ZipFile: await handlerZip('v4'), RevisionId: stale })),
      'PreconditionFailedException', 412, message);
    const after = await stratus.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'upd' }));
    assert.deepEqual(doc(after), doc(current));
    const ok = await stratus.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'upd', MemorySize: 1024, RevisionId: current.RevisionId }));
    assert.equal(ok.MemorySize, 1024);
  });
});

describe('functions API: state survives a restart', () => {
  const credentials = { accessKeyId: 'AKIASTRATUSRESTART', secretAccessKey: `restart-${process.pid}` };
  let dataDir: string;
  let stratus: StratusProcess | undefined;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'stratus-restart-'));
  });
  after(async () => {
    await stratus?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('a function created before a restart is listed, described, downloadable and invocable after it', async () => {
    const zip = await handlerZip('durable');
    stratus = await startOnDataDir(dataDir, credentials);
    assert.ok(stratus.output().includes(`data directory ${dataDir})`), 'runs on the shared data directory');
    const created = await stratus.lambda.send(new CreateFunctionCommand(createInput('durable', zip, {
      MemorySize: 192, Timeout: 4, Environment: { Variables: { GREETING: 'persisted' } },
    })));
    await stratus.stop();
    stratus = undefined;

    stratus = await startOnDataDir(dataDir, credentials);
    const got = await stratus.lambda.send(new GetFunctionCommand({ FunctionName: 'durable' }));
    const { State: _s, LastUpdateStatus: _l, ...createdFields } = doc(created);
    assert.deepEqual({ ...got.Configuration, State: undefined, LastUpdateStatus: undefined }, { ...createdFields, State: undefined, LastUpdateStatus: undefined });
    assert.ok((await fetchBytes(got.Code?.Location ?? '')).bytes.equals(zip), 'code survives the restart');
    const list = await stratus.lambda.send(new ListFunctionsCommand({}));
    assert.deepEqual(list.Functions?.map((f) => f.FunctionName), ['durable']);
    const seen = await invokeJson(stratus.lambda, 'durable');
    assert.deepEqual([seen.tag, seen.greeting, seen.memoryLimitInMB], ['durable', 'persisted', '192']);
    await expectLambdaError(stratus.lambda.send(new CreateFunctionCommand(createInput('durable', zip))), 'ResourceConflictException', 409);
  });
});
