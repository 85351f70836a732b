import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startOtlpReceiver } from '../../test/helpers/otlp-receiver.js';
import { systemClock } from './clock.js';
import { createTracer, NO_TRACER, traceIdOfXRay, traceparentFrom, traceparentOfXRay, xrayField } from './tracing.js';

test("an X-Ray Root is the OpenTelemetry trace id of its two hex parts; anything else maps to none", () => {
  assert.equal(traceIdOfXRay('Root=1-5759e988-bd862e3fe1be46a994272793'), '5759e988bd862e3fe1be46a994272793');
  assert.equal(traceIdOfXRay('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1'), '5759e988bd862e3fe1be46a994272793');
  assert.equal(traceIdOfXRay('Sampled=1;Root=1-5759e988-bd862e3fe1be46a994272793'), '5759e988bd862e3fe1be46a994272793');
  for (const bad of [
    'Root=1-00000000-000000000000000000000000', // all zeros: not a valid trace id
    'Root=2-5759e988-bd862e3fe1be46a994272793', // another version
    'Root=1-5759E988-BD862E3FE1BE46A994272793', // upper case
    'Root=1-5759e988-bd862e3fe1be46a99427279', // short
    'Root=1-5759e988-bd862e3fe1be46a9942727933', // long
    'XRoot=1-5759e988-bd862e3fe1be46a994272793',
    'Parent=53995c3f42cd8ad8',
    '',
  ]) assert.equal(traceIdOfXRay(bad), undefined, bad);
  // A field named twice counts once, as first given (the header's validated Root).
  assert.equal(xrayField('Root=1-5759e988-bd862e3fe1be46a994272793;Root=evil; Sampled=1 ', 'Root'), '1-5759e988-bd862e3fe1be46a994272793');
  assert.equal(xrayField('Root=1-5759e988-bd862e3fe1be46a994272793;Root=evil; Sampled=1 ', 'Sampled'), '1');
});

test("the caller's segment (Parent) becomes the invoke span's remote parent only when it and the Root are valid", () => {
  const root = 'Root=1-5759e988-bd862e3fe1be46a994272793';
  assert.equal(traceparentOfXRay(`${root};Parent=53995c3f42cd8ad8;Sampled=0`), '00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01');
  assert.equal(traceparentOfXRay(root), undefined);
  assert.equal(traceparentOfXRay(`${root};Parent=0000000000000000`), undefined);
  assert.equal(traceparentOfXRay(`${root};Parent=53995c3f42cd8ad`), undefined);
  assert.equal(traceparentOfXRay(`${root};Parent=53995c3f42cd8ad8-01`), undefined);
  assert.equal(traceparentOfXRay('Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8'), undefined);
});

test('only a well-formed traceparent is taken from an internal request', () => {
  const good = '00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01';
  assert.equal(traceparentFrom({ traceparent: good }), good);
  for (const bad of ['', 'ff-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01', `${good}-extra`, good.toUpperCase(), 'x'.repeat(4000)]) {
    assert.equal(traceparentFrom({ traceparent: bad }), undefined, bad);
  }
  assert.equal(traceparentFrom({}), undefined);
});

test('without an endpoint there is no tracer: its spans propagate nothing', () => {
  const tracer = createTracer({}, { role: 'up', instanceId: 'up', clock: systemClock });
  assert.equal(tracer, NO_TRACER);
  assert.equal(tracer.enabled, false);
  assert.equal(tracer.start('x', '00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01').traceparent, undefined);
});

test('a root span takes the chosen trace id, children follow their traceparent, and shutdown exports them', async () => {
  const receiver = await startOtlpReceiver();
  try {
    const tracer = createTracer({ otlpTracesEndpoint: receiver.url }, { role: 'up', instanceId: 'test', clock: systemClock });
    const root = tracer.start('root', undefined, { traceId: '5759e988bd862e3fe1be46a994272793' });
    assert.match(root.traceparent ?? '', /^00-5759e988bd862e3fe1be46a994272793-[0-9a-f]{16}-01$/);
    const child = tracer.start('child', root.traceparent, { traceId: 'ffffffffffffffffffffffffffffffff' });
    tracer.record('measured', child.traceparent, 12, { 'stratus.init_duration_ms': 12 });
    const random = tracer.start('random', undefined, { traceId: '0'.repeat(32) });
    const remote = tracer.start('remote', '00-6759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00');
    for (const span of [child, root, random, remote]) span.end();
    await tracer.shutdown();

    const byName = new Map(receiver.spans.map((s) => [s.name, s]));
    assert.deepEqual([...byName.keys()].sort(), ['child', 'measured', 'random', 'remote', 'root']);
    const [r, c, m] = ['root', 'child', 'measured'].map((n) => byName.get(n));
    assert.equal(r?.traceId, '5759e988bd862e3fe1be46a994272793');
    assert.equal(r?.parentSpanId, '');
    assert.equal(c?.traceId, r?.traceId, "a child's trace is its parent's, whatever id it asked for");
    assert.equal(c?.parentSpanId, r?.spanId);
    assert.equal(m?.parentSpanId, c?.spanId);
    assert.equal(m?.attributes['stratus.init_duration_ms'], 12);
    assert.notEqual(byName.get('random')?.traceId, '0'.repeat(32));
    assert.equal(byName.get('remote')?.traceId, '6759e988bd862e3fe1be46a994272793');
    assert.equal(byName.get('remote')?.parentSpanId, '53995c3f42cd8ad8');
    assert.equal(r?.resource['service.instance.id'], 'test');
  } finally {
    await receiver.close();
  }
});
