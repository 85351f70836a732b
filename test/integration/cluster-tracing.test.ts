// Traces across a real cluster's processes: the frontend, the assignment leader and the worker
// each export their own spans of one invoke to the same OTLP/HTTP receiver, joined into one
// trace (the caller's X-Ray Root) by the traceparent on the internal calls between them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const TRACE_ID = '5759e988bd862e3fe1be46a994272793';

describe('traces in a cluster', () => {
  let receiver: OtlpReceiver;
  let cluster: Cluster;
  let lambda: LambdaClient;

  before(async () => {
    receiver = await startOtlpReceiver();
    // Every role process takes its environment from this test process (OTel's own variables).
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = receiver.url;
    process.env.OTEL_BSP_SCHEDULE_DELAY = '200';
    cluster = await startCluster({ frontends: 1, replicas: 1, workers: 1 });
    lambda = cluster.lambda(0);
    lambda.middlewareStack.add((next) => (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-amzn-trace-id'] = `Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1`;
      return next(args);
    }, { step: 'build' });
  });
  after(async () => {
    await cluster?.stop();
    await receiver?.close();
  });

  test("one invoke's spans come from the frontend, the assignment leader and the worker, in one trace", async () => {
    await lambda.send(new CreateFunctionCommand({
      FunctionName: 'traced', Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: await makeZip({ 'index.js': 'exports.handler = async () => 1;' }) },
    }));
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'traced' }));
    assert.equal(out.StatusCode, 200);
    const deadline = Date.now() + 30_000;
    let spans: ReceivedSpan[] = [];
    while ((spans = receiver.spans.filter((s) => s.traceId === TRACE_ID)).length < 5) {
      if (Date.now() > deadline) throw new Error(`spans of the trace: ${spans.map((s) => s.name).join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const named = (name: string) => {
      const found = spans.filter((s) => s.name === name);
      assert.equal(found.length, 1, name);
      return found[0] as ReceivedSpan;
    };
    const invoke = named('frontend.invoke');
    const acquire = named('assignment.acquire');
    const create = named('worker.create_environment');
    const init = named('function.init');
    const run = named('worker.invoke');
    assert.equal(invoke.resource['stratus.role'], 'frontend');
    assert.equal(acquire.resource['stratus.role'], 'assignment');
    for (const s of [create, init, run]) assert.equal(s.resource['stratus.role'], 'worker', s.name);
    assert.equal(run.resource['service.instance.id'], 'worker-0');
    assert.equal(acquire.parentSpanId, invoke.spanId);
    assert.equal(create.parentSpanId, acquire.spanId);
    assert.equal(init.parentSpanId, create.spanId);
    assert.equal(run.parentSpanId, invoke.spanId);
    assert.equal(invoke.attributes['faas.invocation.id'], out.$metadata.requestId);
    assert.equal(invoke.attributes['faas.coldstart'], true);
  });
});
