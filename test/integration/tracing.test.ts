// OpenTelemetry traces of a real `stratus up` pointed at an OTLP/HTTP receiver run here: a cold
// then a warm invoke with the AWS CLI, and one with the caller's X-Ray header through the SDK, each
// one trace whose id is the invocation's X-Ray Root, with the frontend's invoke, assignment's
// acquire, the environment's creation and the function's init (cold only) and the worker's invoke
// linked parent to child; a SnapStart cold start as a restore. A hostile X-Amzn-Trace-Id (or
// traceparent, or a function's error type) neither breaks the invoke nor becomes an attribute.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, LambdaClient, PublishVersionCommand } from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { until } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

const CODE = `exports.handler = async (event, context) => {
  if (event.fail) { const err = new Error('failed on purpose'); err.name = event.fail; throw err; }
  console.log('traceparent: 00-11111111111111111111111111111111-2222222222222222-01');
  return { trace: process.env._X_AMZN_TRACE_ID, requestId: context.awsRequestId };
};`;
const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:traced';
const SERVER = 2;
const CONSUMER_OR_INTERNAL = [1, 5];
const ERROR = 2;

/** The OTel trace id of an X-Ray header's Root. */
const traceIdOf = (xray: string) => /Root=1-([0-9a-f]{8})-([0-9a-f]{24})/.exec(xray)?.slice(1).join('') ?? '';

describe('traces (OTLP)', () => {
  let receiver: OtlpReceiver;
  let s: StratusProcess;
  let dir: string;

  /** The spans of a trace once its frontend span and `count` spans in all have arrived. */
  const traceOf = (traceId: string, count: number) => until(() => {
    const spans = receiver.spans.filter((x) => x.traceId === traceId);
    return spans.length >= count && spans.some((x) => x.name === 'frontend.invoke') ? spans : undefined;
  }, `${count} spans of trace ${traceId} (received: ${receiver.spans.map((x) => `${x.traceId}/${x.name}`).join(', ')})`);
  const one = (spans: ReceivedSpan[], name: string) => {
    const found = spans.filter((x) => x.name === name);
    assert.equal(found.length, 1, `one ${name} span in ${spans.map((x) => x.name).join(', ')}`);
    return found[0] as ReceivedSpan;
  };
  const cliInvoke = async (payload = '{}') => {
    const out = join(dir, `out-${Math.random().toString(36).slice(2)}.json`);
    const res = await aws(s, ['lambda', 'invoke', '--function-name', 'traced', '--payload', payload, out]);
    assert.equal(res.code, 0, res.stderr);
    return JSON.parse(await readFile(out, 'utf8')) as { trace: string; requestId: string };
  };
  /** An SDK client whose requests carry these extra headers (the AWS CLI cannot set X-Amzn-Trace-Id). */
  const withHeaders = (headers: Record<string, string>) => {
    const client = new LambdaClient({ endpoint: s.url, region: 'us-east-1', credentials: s.credentials, maxAttempts: 1 });
    client.middlewareStack.add((next) => (args) => {
      Object.assign((args.request as { headers: Record<string, string> }).headers, headers);
      return next(args);
    }, { step: 'build' });
    return client;
  };
  const sdkInvoke = async (headers: Record<string, string>, event: unknown = {}) => {
    const client = withHeaders(headers);
    try {
      const out = await client.send(new InvokeCommand({ FunctionName: 'traced', Payload: Buffer.from(JSON.stringify(event)) }));
      assert.equal(out.StatusCode, 200);
      return { out, body: JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString()) as Record<string, unknown>, requestId: out.$metadata.requestId ?? '' };
    } finally {
      client.destroy();
    }
  };
  const frontendSpanOf = (requestId: string) =>
    until(() => receiver.spans.find((x) => x.name === 'frontend.invoke' && x.attributes['faas.invocation.id'] === requestId), `the span of ${requestId}`);

  before(async () => {
    receiver = await startOtlpReceiver();
    dir = await mkdtemp(join(tmpdir(), 'stratus-tracing-'));
    // OTEL_BSP_SCHEDULE_DELAY: the SDK's batch processor exports every 200 ms instead of 5 s.
    s = await startStratus({ args: ['--otlp-traces-endpoint', receiver.url], env: { OTEL_BSP_SCHEDULE_DELAY: '200' } });
    const zip = join(dir, 'traced.zip');
    await writeFile(zip, await makeZip({ 'index.js': CODE }));
    const res = await aws(s, ['lambda', 'create-function', '--function-name', 'traced', '--runtime', 'nodejs20.x', '--handler', 'index.handler',
      '--role', ROLE, '--zip-file', `fileb://${zip}`]);
    assert.equal(res.code, 0, res.stderr);
  });
  after(async () => {
    await s?.stop();
    await receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a cold then a warm invoke: one trace each, its id the X-Ray Root the function got, spans linked parent to child', async () => {
    const cold = await cliInvoke();
    const warm = await cliInvoke();
    const coldSpans = await traceOf(traceIdOf(cold.trace), 5);
    const warmSpans = await traceOf(traceIdOf(warm.trace), 3);

    const invoke = one(coldSpans, 'frontend.invoke');
    assert.equal(invoke.kind, SERVER);
    assert.equal(invoke.parentSpanId, '', 'without a caller\'s header the invoke is the root of its trace');
    assert.deepEqual(invoke.attributes, {
      'faas.invocation.id': cold.requestId, 'cloud.resource_id': ARN, 'cloud.account.id': '000000000000', 'faas.name': 'traced',
      'faas.version': '$LATEST', 'stratus.invocation_type': 'RequestResponse', 'faas.coldstart': true,
      'stratus.environment.id': invoke.attributes['stratus.environment.id'], 'stratus.worker.id': 'worker-1',
    });
    assert.match(String(invoke.attributes['stratus.environment.id']), /^[0-9a-f-]{36}$/);
    assert.equal(invoke.resource['service.name'], 'stratus');
    const acquire = one(coldSpans, 'assignment.acquire');
    assert.equal(acquire.parentSpanId, invoke.spanId);
    assert.equal(acquire.attributes['stratus.assignment.warm'], false);
    assert.equal(acquire.attributes['stratus.assignment.queued'], false);
    const create = one(coldSpans, 'worker.create_environment');
    assert.equal(create.parentSpanId, acquire.spanId);
    assert.equal(create.attributes['stratus.start_kind'], 'boot');
    assert.equal(create.attributes['stratus.environment.id'], invoke.attributes['stratus.environment.id']);
    const init = one(coldSpans, 'function.init');
    assert.equal(init.parentSpanId, create.spanId);
    assert.ok(Number(init.attributes['stratus.init_duration_ms']) > 0);
    const run = one(coldSpans, 'worker.invoke');
    assert.equal(run.parentSpanId, invoke.spanId);
    assert.equal(run.attributes['faas.invocation.id'], cold.requestId);
    assert.equal(run.attributes['stratus.function_error'], false);
    assert.equal(run.attributes['stratus.init_duration_ms'], init.attributes['stratus.init_duration_ms']);
    assert.equal(coldSpans.length, 5);

    const warmInvoke = one(warmSpans, 'frontend.invoke');
    assert.equal(warmInvoke.attributes['faas.coldstart'], false);
    assert.equal(warmInvoke.attributes['faas.invocation.id'], warm.requestId);
    assert.equal(warmInvoke.attributes['stratus.environment.id'], invoke.attributes['stratus.environment.id'], 'the same environment, warm');
    assert.equal(one(warmSpans, 'assignment.acquire').attributes['stratus.assignment.warm'], true);
    assert.equal(one(warmSpans, 'worker.invoke').parentSpanId, warmInvoke.spanId);
    assert.deepEqual(warmSpans.map((x) => x.name).sort(), ['assignment.acquire', 'frontend.invoke', 'worker.invoke'], 'no creation or init on a warm invoke');
  });

  test("the caller's X-Ray trace: the invoke's trace id is its Root, under the caller's segment", async () => {
    const { body, requestId } = await sdkInvoke({ 'x-amzn-trace-id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1' });
    assert.match(String(body.trace), /^Root=1-5759e988-bd862e3fe1be46a994272793;/);
    const invoke = await frontendSpanOf(requestId);
    assert.equal(invoke.traceId, '5759e988bd862e3fe1be46a994272793');
    assert.equal(invoke.parentSpanId, '53995c3f42cd8ad8');
    const spans = await traceOf(invoke.traceId, 3);
    assert.equal(one(spans, 'worker.invoke').parentSpanId, invoke.spanId);
  });

  test('a SnapStart cold start is traced as a restore, its init being the Restore Duration', async () => {
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'snapped', Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: await makeZip({ 'index.js': CODE }) },
      SnapStart: { ApplyOn: 'PublishedVersions' },
    }));
    const { Version } = await s.lambda.send(new PublishVersionCommand({ FunctionName: 'snapped' }));
    let status: string | undefined;
    for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 100))) {
      const c = await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'snapped', Qualifier: Version }));
      if (c.State !== 'Pending') {
        status = c.SnapStart?.OptimizationStatus;
        break;
      }
      assert.ok(Date.now() < deadline, 'the version stayed Pending');
    }
    assert.equal(status, 'On');
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'snapped', Qualifier: Version }));
    const body = JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString()) as { trace: string };
    const spans = await traceOf(traceIdOf(body.trace), 5);
    const invoke = one(spans, 'frontend.invoke');
    assert.equal(invoke.attributes['faas.version'], Version);
    assert.equal(invoke.attributes['cloud.resource_id'], `${ARN.replace(/traced$/, 'snapped')}:${Version}`);
    const restore = one(spans, 'worker.restore_environment');
    assert.equal(restore.attributes['stratus.start_kind'], 'snapstart');
    assert.equal(restore.parentSpanId, one(spans, 'assignment.acquire').spanId);
    const init = one(spans, 'function.init');
    assert.equal(init.parentSpanId, restore.spanId);
    assert.equal(init.attributes['stratus.start_kind'], 'snapstart');
    assert.equal(init.attributes['stratus.init_duration_ms'], one(spans, 'worker.invoke').attributes['stratus.init_duration_ms'], "the invoke's Restore Duration");
  });

  test('a hostile trace header, traceparent or error type breaks no invoke and becomes no attribute', async () => {
    const fixed = ['faas.invocation.id', 'cloud.resource_id', 'cloud.account.id', 'faas.name', 'faas.version', 'stratus.invocation_type', 'faas.coldstart',
      'stratus.environment.id', 'stratus.worker.id'];
    const planted = /injected|evil|Inject/i;
    const clean = (spans: ReceivedSpan[]) => {
      for (const span of spans) {
        for (const [key, value] of Object.entries(span.attributes)) assert.doesNotMatch(`${key}=${value}`, planted, `${span.name} carries ${key}=${value}`);
        assert.doesNotMatch(span.status.message ?? '', planted);
      }
    };

    // All-zero ids are not valid OpenTelemetry ids: a new random trace, the invoke its root.
    const zeros = await sdkInvoke({ 'x-amzn-trace-id': 'Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=1' });
    const zeroSpan = await frontendSpanOf(zeros.requestId);
    assert.match(zeroSpan.traceId, /^[0-9a-f]{32}$/);
    assert.notEqual(zeroSpan.traceId, '0'.repeat(32));
    assert.equal(zeroSpan.parentSpanId, '');

    // Extra fields and a malformed Parent: the Root is used, nothing else.
    const fields = await sdkInvoke({ 'x-amzn-trace-id': 'Root=1-6759e988-cd862e3fe1be46a994272793;Parent=evil;Injected=evil;Self=1-injected;Sampled=1' });
    const fieldSpan = await frontendSpanOf(fields.requestId);
    assert.equal(fieldSpan.traceId, '6759e988cd862e3fe1be46a994272793');
    assert.equal(fieldSpan.parentSpanId, '');
    assert.deepEqual(Object.keys(fieldSpan.attributes).sort(), [...fixed].sort());
    clean(await traceOf(fieldSpan.traceId, 3));

    // Too long, or not X-Ray at all: ignored (a new trace), the invoke runs.
    const long = await sdkInvoke({ 'x-amzn-trace-id': `Root=1-7759e988-dd862e3fe1be46a994272793;Injected=${'a'.repeat(300)}` });
    assert.notEqual((await frontendSpanOf(long.requestId)).traceId, '7759e988dd862e3fe1be46a994272793');
    // A W3C traceparent from outside is not a parent: only the X-Ray header is read.
    const w3c = await sdkInvoke({ traceparent: '00-8759e988ed862e3fe1be46a994272793-1111111111111111-01', 'x-amzn-trace-id': 'Root=evil' });
    const w3cSpan = await frontendSpanOf(w3c.requestId);
    assert.notEqual(w3cSpan.traceId, '8759e988ed862e3fe1be46a994272793');
    assert.notEqual(w3cSpan.parentSpanId, '1111111111111111');
    assert.equal(w3cSpan.traceId, traceIdOf(String(w3c.body.trace)), "the trace id is the function's new X-Ray Root");

    // A function error whose type the function chose: a fixed error.type, the function's words nowhere.
    const failed = await sdkInvoke({}, { fail: 'InjectedErrorType' });
    assert.equal(failed.out.FunctionError, 'Unhandled');
    const failedSpan = await frontendSpanOf(failed.requestId);
    assert.equal(failedSpan.attributes['error.type'], 'FunctionError');
    assert.equal(failedSpan.status.code, ERROR);
    const failedSpans = await traceOf(failedSpan.traceId, 3);
    assert.equal(one(failedSpans, 'worker.invoke').attributes['error.type'], 'FunctionError');
    assert.equal(one(failedSpans, 'worker.invoke').attributes['stratus.function_error'], true);
    clean(failedSpans);
    // What the function printed (a traceparent line) made no span of its own.
    assert.ok(!receiver.spans.some((x) => x.traceId === '11111111111111111111111111111111'));
    assert.ok(receiver.spans.every((x) => x.kind === SERVER || CONSUMER_OR_INTERNAL.includes(x.kind)));
    assert.deepEqual(receiver.rejected, []);
  });
});
