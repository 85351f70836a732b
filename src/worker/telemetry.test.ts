import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../shared/clock.js';
import { parseSubscription, Telemetry, type SubscriptionRequest } from './telemetry.js';

const body = (over: Record<string, unknown> = {}) => ({
  schemaVersion: '2022-12-13', destination: { protocol: 'HTTP', URI: 'http://sandbox.localdomain:4243/t?x=1' }, types: ['platform', 'function'], ...over,
});

/** A Telemetry whose deliveries are kept (and answered when `answer` is called). */
function harness() {
  const clock = new ManualClock();
  const deliveries: { port: number; path: string; records: { type: string; record: any }[]; answer: () => void }[] = [];
  const t = new Telemetry(clock, (port, path, b) => new Promise((resolve) => {
    deliveries.push({ port, path, records: JSON.parse(b.toString()), answer: () => resolve(200) });
  }));
  return { clock, t, deliveries };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('Telemetry API', () => {
  it('takes a subscription to sandbox.localdomain with Lambda\'s buffering defaults', () => {
    assert.deepEqual(parseSubscription(body()), {
      port: 4243, path: '/t?x=1', types: ['platform', 'function'], buffering: { maxItems: 1000, maxBytes: 262_144, timeoutMs: 1000 },
    });
  });

  it('refuses destinations outside the sandbox and buffering beyond Lambda\'s bounds', () => {
    for (const URI of ['http://127.0.0.1:4243/', 'http://localhost:4243/', 'http://sandbox.localdomain.evil:4243/', 'http://a:b@sandbox.localdomain:4243/',
      'https://sandbox.localdomain:4243/', 'http://sandbox.localdomain/', 'not a uri', 'http://10.0.0.1:80/']) {
      assert.equal(typeof parseSubscription(body({ destination: { protocol: 'HTTP', URI } })), 'string', URI);
    }
    assert.equal(typeof parseSubscription(body({ destination: { protocol: 'TCP', URI: 'http://sandbox.localdomain:1/' } })), 'string');
    for (const buffering of [{ maxItems: 999 }, { maxItems: 10_001 }, { maxBytes: 1_048_577 }, { timeoutMs: 24 }, { timeoutMs: 30_001 }, { timeoutMs: 1.5 }]) {
      assert.equal(typeof parseSubscription(body({ buffering })), 'string', JSON.stringify(buffering));
    }
    assert.equal(typeof parseSubscription(body({ types: ['platform', 'secrets'] })), 'string');
    assert.equal(typeof parseSubscription(body({ schemaVersion: '2020-01-01' })), 'string');
  });

  it('gives a new subscription what init logged before it, then buffers until timeoutMs', async () => {
    const { clock, t, deliveries } = harness();
    t.platform('platform.initStart', { phase: 'init' });
    t.output('init line\n');
    t.subscribe('id-1', 'probe', parseSubscription(body({ buffering: { timeoutMs: 100 } })) as SubscriptionRequest);
    assert.equal(deliveries.length, 0);
    clock.advance(100);
    assert.deepEqual(deliveries[0]?.records.map((r) => r.type), ['platform.initStart', 'function', 'platform.telemetrySubscription']);
    assert.equal(deliveries[0]?.records[1]?.record, 'init line');
    assert.equal(deliveries[0]?.port, 4243);
  });

  it('holds at most a buffer behind a delivery in flight; the rest is dropped and told in platform.logsDropped', async () => {
    const { clock, t, deliveries } = harness();
    t.endBacklog();
    t.subscribe('id-1', 'probe', parseSubscription(body({ buffering: { maxItems: 1000, timeoutMs: 25 } })) as SubscriptionRequest);
    t.output('first\n');
    clock.advance(25);
    assert.equal(deliveries.length, 1);
    // The listener never answers: 5000 more lines, one buffer of 1000 kept.
    t.output(Array.from({ length: 5000 }, (_, i) => `line ${i}`).join('\n'));
    assert.equal(deliveries.length, 1);
    deliveries[0]?.answer();
    await settle();
    // The full buffer goes at once, the drop told first.
    assert.equal(deliveries.length, 2);
    const delivered = deliveries[1]?.records ?? [];
    assert.equal(delivered[0]?.type, 'platform.logsDropped');
    assert.equal(delivered[0]?.record.droppedRecords, 4000);
    assert.equal(delivered.filter((r) => r.type === 'function').length, 1000);
  });

  it('an extension that is not subscribed to a type gets none of it', () => {
    const { clock, t, deliveries } = harness();
    t.endBacklog();
    t.subscribe('id-1', 'probe', parseSubscription(body({ types: ['function'], buffering: { timeoutMs: 25 } })) as SubscriptionRequest);
    t.platform('platform.start', { requestId: 'r' });
    clock.advance(25);
    assert.equal(deliveries.length, 0);
  });
});
