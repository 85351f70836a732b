// Invoke basics as a Lambda user sees them: handler styles, invocation types, log tails and the
// context object, through the real SDK v3 and the real AWS CLI v2 against a real `stratus up`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateFunctionCommand, InvokeCommand, LambdaClient, type CreateFunctionCommandInput, type InvokeCommandInput } from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';

const CJS = `exports.handler = async (event) => ({ style: 'cjs', echo: event });`;
const ESM = `export const handler = async (event) => ({ style: 'esm', esm: typeof require === 'undefined', echo: event });`;
const CALLBACK = `exports.handler = (event, context, callback) => {
  setTimeout(() => callback(null, { style: 'callback', doubled: event.n * 2 }), 20);
};`;
const LOGGER = `exports.handler = async (event) => { console.log('log-marker ' + event.tag); return { logged: event.tag }; };`;
const CONTEXT = `exports.handler = async (event, context) => ({
  awsRequestId: context.awsRequestId,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  logGroupName: context.logGroupName,
  remaining: context.getRemainingTimeInMillis(),
  clientContext: context.clientContext ?? null,
});`;
const TRACE = `exports.handler = async () => ({ trace: process.env._X_AMZN_TRACE_ID ?? null });`;
const DRY = `console.log('dry-module-loaded'); exports.handler = async () => { console.log('dry-handler-ran'); return 1; };`;

let stratus: StratusProcess;
let workDir: string;

async function createFunction(name: string, files: Record<string, string>, opts: Partial<CreateFunctionCommandInput> = {}): Promise<void> {
  await stratus.lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: await makeZip(files) }, ...opts,
  }));
}

async function invoke(name: string, payload: unknown, extra: Partial<InvokeCommandInput> = {}) {
  const out = await stratus.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(payload)), ...extra }));
  const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
  return { out, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined, requestId: out.$metadata.requestId ?? '' };
}

async function cliInvoke(args: string[]): Promise<{ meta: Record<string, unknown>; body: string }> {
  const outFile = join(workDir, `out-${Math.random().toString(36).slice(2)}.json`);
  const res = await aws(stratus, ['lambda', 'invoke', ...args, outFile]);
  assert.equal(res.code, 0, `aws lambda invoke failed: ${res.stderr}`);
  const body = await readFile(outFile, 'utf8').catch(() => '');
  return { meta: JSON.parse(res.stdout) as Record<string, unknown>, body };
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ISO = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z';

/** Checks a decoded LogType=Tail text for one invocation and returns its REPORT line. */
function checkTail(log: string, requestId: string, message: string, cold: boolean): string {
  const lines = log.split('\n');
  assert.ok(lines.includes(`START RequestId: ${requestId} Version: $LATEST`), `no START line in:\n${log}`);
  assert.ok(lines.some((l) => new RegExp(`^${ISO}\\t${requestId}\\tINFO\\t${message}$`).test(l)), `no console.log line "${message}" in:\n${log}`);
  assert.ok(lines.includes(`END RequestId: ${requestId}`), `no END line in:\n${log}`);
  const report = lines.find((l) => l.startsWith(`REPORT RequestId: ${requestId}\t`));
  assert.ok(report, `no REPORT line in:\n${log}`);
  assert.match(report, /\tDuration: \d+\.\d{2} ms\t/);
  assert.match(report, /\tBilled Duration: \d+ ms\t/);
  assert.match(report, /\tMemory Size: 128 MB\t/);
  const used = /\tMax Memory Used: (\d+) MB\t/.exec(report);
  assert.ok(used?.[1] && Number(used[1]) > 0, `Max Memory Used missing or zero: ${report}`);
  if (cold) assert.match(report, /\tInit Duration: \d+\.\d{2} ms\t/);
  else assert.doesNotMatch(report, /Init Duration/);
  assert.ok(lines.indexOf(`START RequestId: ${requestId} Version: $LATEST`) < lines.indexOf(`END RequestId: ${requestId}`));
  return report;
}

describe('invoke basics', () => {
  before(async () => {
    stratus = await startStratus();
    workDir = await mkdtemp(join(tmpdir(), 'stratus-invoke-basics-'));
    await createFunction('basic-cjs', { 'index.js': CJS });
    await createFunction('basic-esm', { 'index.mjs': ESM });
    await createFunction('basic-callback', { 'index.js': CALLBACK });
    await createFunction('basic-logs', { 'index.js': LOGGER });
    await createFunction('basic-logs-cli', { 'index.js': LOGGER });
    await createFunction('basic-event', { 'index.js': LOGGER });
    await createFunction('basic-context', { 'index.js': CONTEXT }, { MemorySize: 256, Timeout: 7 });
    await createFunction('basic-dry', { 'index.js': DRY });
    await createFunction('basic-trace', { 'index.js': TRACE });
  });

  test('the caller\'s X-Ray header continues into the function (its Root and sampling, a new Parent); a malformed one starts a new trace', async () => {
    const traced = (header: string) => {
      const client = new LambdaClient({ endpoint: stratus.url, region: 'us-east-1', credentials: stratus.credentials, maxAttempts: 1 });
      client.middlewareStack.add((next) => (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-amzn-trace-id'] = header;
        return next(args);
      }, { step: 'build' });
      return client;
    };
    const traceOf = async (client: LambdaClient) => {
      const out = await client.send(new InvokeCommand({ FunctionName: 'basic-trace' }));
      client.destroy();
      return (JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString()) as { trace: string }).trace;
    };
    const root = 'Root=1-5759e988-bd862e3fe1be46a994272793';
    const continued = await traceOf(traced(`${root};Parent=53995c3f42cd8ad8;Sampled=1`));
    assert.match(continued, /^Root=1-5759e988-bd862e3fe1be46a994272793;Parent=[0-9a-f]{16};Sampled=1$/);
    assert.doesNotMatch(continued, /Parent=53995c3f42cd8ad8/, 'the function is a new segment under the caller\'s');
    const fresh = await traceOf(traced('Root=not-a-trace;Sampled=1'));
    assert.match(fresh, /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/);
    assert.doesNotMatch(fresh, /not-a-trace/);
  });

  after(async () => {
    await stratus?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  test('a CommonJS async handler returns its JSON, with ExecutedVersion $LATEST', async () => {
    const { out, json } = await invoke('basic-cjs', { a: 1, nested: { b: [1, 2] } });
    assert.equal(out.StatusCode, 200);
    assert.equal(out.FunctionError, undefined);
    assert.equal(out.ExecutedVersion, '$LATEST');
    assert.deepEqual(json, { style: 'cjs', echo: { a: 1, nested: { b: [1, 2] } } });
  });

  test('an ES module handler (export const handler in index.mjs) runs as ESM', async () => {
    const { out, json } = await invoke('basic-esm', { x: 'y' });
    assert.equal(out.StatusCode, 200);
    assert.equal(out.FunctionError, undefined);
    assert.deepEqual(json, { style: 'esm', esm: true, echo: { x: 'y' } });
  });

  test('a callback-style handler returns what it passes to the callback', async () => {
    const { out, json } = await invoke('basic-callback', { n: 21 });
    assert.equal(out.StatusCode, 200);
    assert.deepEqual(json, { style: 'callback', doubled: 42 });
  });

  test('the AWS CLI invokes synchronously and writes the payload to the outfile', async () => {
    const { meta, body } = await cliInvoke(['--function-name', 'basic-cjs', '--payload', '{"from":"cli"}']);
    assert.equal(meta.StatusCode, 200);
    assert.equal(meta.ExecutedVersion, '$LATEST');
    assert.equal(meta.FunctionError, undefined);
    assert.deepEqual(JSON.parse(body), { style: 'cjs', echo: { from: 'cli' } });
  });

  test('Event invocation returns 202 at once and the function runs in the background', async () => {
    const tag = `event-${Date.now()}`;
    const { out, text, requestId } = await invoke('basic-event', { tag }, { InvocationType: 'Event' });
    assert.equal(out.StatusCode, 202);
    assert.equal(text, '');
    assert.equal(out.FunctionError, undefined);
    assert.equal(out.ExecutedVersion, undefined, 'Lambda sends no X-Amz-Executed-Version with a 202');
    const line = new RegExp(`${ISO}\\t([0-9a-f-]{36})\\tINFO\\tlog-marker ${tag}`);
    await waitFor(`the event's log line "${tag}"`, () => line.test(stratus.output()));
    // Lambda runs the async invocation under the request id it returned with the 202.
    assert.equal(line.exec(stratus.output())?.[1], requestId);
  });

  test('Event invocation through the CLI gives StatusCode 202 and runs the function', async () => {
    const tag = `cli-event-${Date.now()}`;
    const { meta, body } = await cliInvoke(['--function-name', 'basic-event', '--invocation-type', 'Event', '--payload', JSON.stringify({ tag })]);
    assert.equal(meta.StatusCode, 202);
    assert.equal(body, '');
    await waitFor(`the CLI event's log line "${tag}"`, () => stratus.output().includes(`INFO\tlog-marker ${tag}`));
  });

  test('DryRun returns 204 and runs nothing', async () => {
    const before = new Set(await stratus.descendants());
    const { out, text } = await invoke('basic-dry', {}, { InvocationType: 'DryRun' });
    assert.equal(out.StatusCode, 204);
    assert.equal(text, '');
    const cli = await cliInvoke(['--function-name', 'basic-dry', '--invocation-type', 'DryRun']);
    assert.equal(cli.meta.StatusCode, 204);
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(!stratus.output().includes('dry-module-loaded'), 'DryRun started the function');
    assert.ok(!stratus.output().includes('dry-handler-ran'), 'DryRun ran the handler');
    const started = (await stratus.descendants()).filter((pid) => !before.has(pid));
    assert.deepEqual(started, [], 'DryRun started a sandbox');
    // The function itself works, so the check above could have seen it run.
    const { json } = await invoke('basic-dry', {});
    assert.equal(json, 1);
    assert.ok(stratus.output().includes('dry-handler-ran'));
  });

  test('LogType Tail (SDK) returns START, the console.log line, END and REPORT; Init Duration only when cold', async () => {
    const cold = await invoke('basic-logs', { tag: 'first' }, { LogType: 'Tail' });
    assert.equal(cold.out.StatusCode, 200);
    assert.ok(cold.out.LogResult, 'no LogResult');
    checkTail(Buffer.from(cold.out.LogResult, 'base64').toString('utf8'), cold.requestId, 'log-marker first', true);

    const warm = await invoke('basic-logs', { tag: 'second' }, { LogType: 'Tail' });
    assert.ok(warm.out.LogResult, 'no LogResult on the warm invoke');
    const warmLog = Buffer.from(warm.out.LogResult, 'base64').toString('utf8');
    checkTail(warmLog, warm.requestId, 'log-marker second', false);
    assert.ok(!warmLog.includes(cold.requestId), 'the warm tail contains the previous invocation');

    const none = await invoke('basic-logs', { tag: 'third' });
    assert.equal(none.out.LogResult, undefined, 'LogResult without LogType Tail');
  });

  test('--log-type Tail through the CLI returns the decoded log of the cold start', async () => {
    const { meta, body } = await cliInvoke(['--function-name', 'basic-logs-cli', '--log-type', 'Tail', '--payload', '{"tag":"cli"}']);
    assert.equal(meta.StatusCode, 200);
    assert.deepEqual(JSON.parse(body), { logged: 'cli' });
    assert.equal(typeof meta.LogResult, 'string');
    const log = Buffer.from(meta.LogResult as string, 'base64').toString('utf8');
    const requestId = /^START RequestId: (\S+) Version: \$LATEST$/m.exec(log)?.[1];
    assert.ok(requestId, `no START line in:\n${log}`);
    checkTail(log, requestId, 'log-marker cli', true);
  });

  test('the context object: request id, names, ARN, memory, remaining time and client context', async () => {
    const clientContext = { client: { installation_id: 'inst-1', app_title: 'tests' }, custom: { flavour: 'vanilla', n: 3 }, env: { platform: 'node' } };
    const { out, json, requestId } = await invoke('basic-context', {}, { ClientContext: Buffer.from(JSON.stringify(clientContext)).toString('base64') });
    assert.equal(out.StatusCode, 200);
    assert.ok(json);
    assert.deepEqual(json.clientContext, clientContext);
    assert.match(requestId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(json.awsRequestId, requestId, 'context.awsRequestId differs from the x-amzn-RequestId of the response');
    assert.equal(json.functionName, 'basic-context');
    assert.equal(json.functionVersion, '$LATEST');
    assert.match(String(json.invokedFunctionArn), /^arn:aws:lambda:us-east-1:\d{12}:function:basic-context$/);
    assert.equal(json.memoryLimitInMB, '256');
    assert.equal(json.logGroupName, '/aws/lambda/basic-context');
    const remaining = Number(json.remaining);
    assert.ok(remaining > 0 && remaining <= 7000, `getRemainingTimeInMillis() = ${remaining}`);

    const qualified = await invoke('basic-context', {}, { Qualifier: '$LATEST' });
    assert.ok(qualified.json);
    assert.equal(qualified.json.clientContext, null);
    assert.match(String(qualified.json.invokedFunctionArn), /^arn:aws:lambda:us-east-1:\d{12}:function:basic-context:\$LATEST$/);
  });
});
