import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal, type EventQueue } from '../journal/index.js';
import type { FunctionVersion } from '../registry/index.js';
import { ManualClock } from '../shared/clock.js';
import { resolveConfig } from '../shared/config.js';
import { StratusError } from '../shared/errors.js';
import { silentLogger } from '../shared/log.js';
import { Metrics } from '../shared/metrics.js';
import type { InvocationOutcome } from '../worker/index.js';
import { MAX_CHAIN_EVENTS } from './async-event.js';
import { AsyncInvoker, type EventSettings } from './async-invoker.js';
import type { RunOutcome, RunRequest } from './runner.js';

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:';
type Behaviour = (req: RunRequest) => InvocationOutcome | Promise<InvocationOutcome>;

const ok = (body: unknown): InvocationOutcome => ({ kind: 'success', payload: Buffer.from(JSON.stringify(body)) });
const boom: InvocationOutcome = { kind: 'function-error', errorType: 'Error', payload: Buffer.from('{"errorType":"Error","errorMessage":"boom"}') };

/** An AsyncInvoker on a ManualClock whose "functions" are plain callbacks that record every call. */
function harness(opts: { queue?: EventQueue; clock?: ManualClock; owner?: string; metrics?: Metrics } = {}) {
  const clock = opts.clock ?? new ManualClock();
  const queue = opts.queue ?? new MemoryJournal().eventQueue;
  const functions = new Map<string, Behaviour>();
  const settings = new Map<string, Partial<EventSettings>>();
  const calls: { fn: string; at: number; payload: unknown }[] = [];
  const config = { ...resolveConfig({}).asyncInvoke, concurrency: 4, claimMs: 9000, pollMs: 1000 };
  const invoker = new AsyncInvoker({
    queue, clock, config, log: silentLogger(), owner: opts.owner, metrics: opts.metrics,
    invoke: async (req) => {
      const fn = functions.get(req.functionName);
      if (!fn) throw new StratusError('ResourceNotFound', 'gone');
      calls.push({ fn: req.functionName, at: clock.now(), payload: JSON.parse(req.payload.toString()) as unknown });
      const outcome = await fn(req);
      const version = { name: req.functionName, version: '$LATEST' } as FunctionVersion;
      return { version, result: { outcome, reusable: true, durationMs: 1 } } satisfies RunOutcome;
    },
    unownedAccountId: '000000000000',
    settings: (_account, name) => {
      if (!functions.has(name)) throw new StratusError('ResourceNotFound', `Function not found: ${ARN}${name}`);
      return { functionArn: `${ARN}${name}`, maxRetryAttempts: 2, maxEventAgeMs: 21_600_000, ...settings.get(name) };
    },
  });
  const request = (fn: string, payload: unknown = { n: 1 }, requestId = `req-${Math.random().toString(36).slice(2)}`): RunRequest =>
    ({ accountId: '000000000000', functionName: fn, qualifier: undefined, requestId, payload: Buffer.from(JSON.stringify(payload)), tailLog: false });
  /** Moves time in steps so that every promise chain a timer starts can finish. */
  const advance = async (ms: number, step = 250) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(Math.min(step, ms - t));
      await settle();
    }
  };
  return { clock, queue, functions, settings, calls, invoker, request, advance, settle };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('AsyncInvoker', () => {
  it('queues before accepting, runs the event, and sends a Success record to OnSuccess', async () => {
    const h = harness();
    const records: unknown[] = [];
    h.functions.set('hello', () => ok({ greeting: 'hi' }));
    h.functions.set('sink', (req) => (records.push(JSON.parse(req.payload.toString())), ok(null)));
    h.settings.set('hello', { onSuccess: `${ARN}sink` });
    await h.invoker.accept(h.request('hello', { name: 'x' }, 'r-1'));
    assert.equal(await h.queue.count(), 1, 'accepted means queued');
    h.invoker.start();
    await h.settle();
    assert.deepEqual(h.calls.map((c) => c.fn), ['hello', 'sink']);
    assert.equal(await h.queue.count(), 0, 'both events finished and left the queue');
    assert.deepEqual(records, [{
      version: '1.0', timestamp: new Date(h.clock.now()).toISOString(),
      requestContext: { requestId: 'r-1', functionArn: `${ARN}hello:$LATEST`, condition: 'Success', approximateInvokeCount: 1 },
      requestPayload: { name: 'x' },
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      responsePayload: { greeting: 'hi' },
    }]);
    h.invoker.stop();
  });

  it('retries a function error after 1 and 2 minutes, then sends RetriesExhausted to OnFailure', async () => {
    const h = harness();
    const records: Record<string, unknown>[] = [];
    h.functions.set('flaky', () => boom);
    h.functions.set('dlq', (req) => (records.push(JSON.parse(req.payload.toString()) as Record<string, unknown>), ok(null)));
    h.settings.set('flaky', { onFailure: `${ARN}dlq` });
    h.invoker.start();
    const t0 = h.clock.now();
    await h.invoker.accept(h.request('flaky', { order: 7 }, 'r-2'));
    await h.settle();
    await h.advance(59_000);
    assert.equal(h.calls.length, 1, 'no retry before a minute');
    await h.advance(1_000);
    assert.equal(h.calls.length, 2);
    await h.advance(120_000);
    assert.deepEqual(h.calls.map((c) => [c.fn, c.at - t0]), [['flaky', 0], ['flaky', 60_000], ['flaky', 180_000], ['dlq', 180_000]]);
    assert.equal(records.length, 1);
    assert.deepEqual(records[0]?.requestContext, { requestId: 'r-2', functionArn: `${ARN}flaky:$LATEST`, condition: 'RetriesExhausted', approximateInvokeCount: 3 });
    assert.deepEqual(records[0]?.responseContext, { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' });
    assert.deepEqual(records[0]?.responsePayload, { errorType: 'Error', errorMessage: 'boom' });
    assert.deepEqual(records[0]?.requestPayload, { order: 7 });
    assert.equal(await h.queue.count(), 0);
    h.invoker.stop();
  });

  it('honours MaximumRetryAttempts 0: one attempt, then OnFailure', async () => {
    const h = harness();
    h.functions.set('once', () => boom);
    h.functions.set('dlq', () => ok(null));
    h.settings.set('once', { maxRetryAttempts: 0, onFailure: `${ARN}dlq` });
    h.invoker.start();
    await h.invoker.accept(h.request('once'));
    await h.advance(300_000, 5000);
    assert.deepEqual(h.calls.map((c) => c.fn), ['once', 'dlq']);
    h.invoker.stop();
  });

  it('gives a failed event, as sent, to the DeadLetterConfig function as well as its OnFailure record, and nothing after a success', async () => {
    const h = harness();
    const letters: unknown[] = [];
    h.functions.set('doomed', () => boom);
    h.functions.set('fine', () => ok(null));
    h.functions.set('letters', (req) => (letters.push(JSON.parse(req.payload.toString())), ok(null)));
    h.functions.set('records', () => ok(null));
    h.settings.set('doomed', { maxRetryAttempts: 0, onFailure: `${ARN}records`, deadLetter: `${ARN}letters` });
    h.settings.set('fine', { deadLetter: `${ARN}letters` });
    h.invoker.start();
    await h.invoker.accept(h.request('fine', { n: 1 }));
    await h.invoker.accept(h.request('doomed', { n: 2 }));
    await h.advance(300_000, 5000);
    assert.deepEqual(h.calls.map((c) => c.fn).sort(), ['doomed', 'fine', 'letters', 'records']);
    assert.deepEqual(letters, [{ n: 2 }], 'the dead-letter function gets the event itself, once');
    assert.equal(await h.queue.count(), 0);
    h.invoker.stop();
  });

  it('stops a chain of failures that two functions pass to each other (dead letter and OnFailure both ways) at MAX_CHAIN_EVENTS', async () => {
    const h = harness();
    h.functions.set('ping', () => boom);
    h.functions.set('pong', () => boom);
    h.settings.set('ping', { maxRetryAttempts: 0, onFailure: `${ARN}pong`, deadLetter: `${ARN}pong` });
    h.settings.set('pong', { maxRetryAttempts: 0, onFailure: `${ARN}ping`, deadLetter: `${ARN}ping` });
    h.invoker.start();
    await h.invoker.accept(h.request('ping', { n: 1 }));
    for (let i = 0; i < 40 && (await h.queue.count()) > 0; i++) await h.advance(300_000, 5000);
    assert.equal(await h.queue.count(), 0, 'the chain ends');
    // The event itself, and at most MAX_CHAIN_EVENTS events it led to, however they branch.
    assert.ok(h.calls.length > 2 && h.calls.length <= 1 + MAX_CHAIN_EVENTS, `${h.calls.length} runs`);
    h.invoker.stop();
  });

  it('drops an event older than MaximumEventAgeInSeconds to OnFailure as EventAgeExceeded', async () => {
    const h = harness();
    const records: Record<string, unknown>[] = [];
    h.functions.set('slowfail', () => boom);
    h.functions.set('dlq', (req) => (records.push(JSON.parse(req.payload.toString()) as Record<string, unknown>), ok(null)));
    h.settings.set('slowfail', { maxEventAgeMs: 60_000, onFailure: `${ARN}dlq` });
    h.invoker.start();
    await h.invoker.accept(h.request('slowfail', {}, 'r-3'));
    await h.advance(200_000, 5000);
    assert.deepEqual(h.calls.map((c) => c.fn), ['slowfail', 'dlq'], 'the retry due at 60 s finds the event too old');
    assert.deepEqual(records[0]?.requestContext, { requestId: 'r-3', functionArn: `${ARN}slowfail:$LATEST`, condition: 'EventAgeExceeded', approximateInvokeCount: 1 });
    h.invoker.stop();
  });

  it('retries throttles and platform errors with doubling back-off, not counting them as retries', async () => {
    const h = harness();
    let failures = 3;
    h.functions.set('busy', () => ok('done'));
    const invoke = h.functions.get('busy');
    h.functions.set('busy', (req) => {
      if (failures-- > 0) throw new StratusError('TooManyRequests', 'Rate Exceeded.');
      return invoke ? invoke(req) : ok(null);
    });
    h.settings.set('busy', { maxRetryAttempts: 0 });
    h.invoker.start();
    const t0 = h.clock.now();
    await h.invoker.accept(h.request('busy'));
    await h.settle();
    await h.advance(20_000, 100);
    assert.deepEqual(h.calls.map((c) => c.at - t0), [0, 1000, 3000, 7000], 'after 1 s, 2 s and 4 s');
    assert.equal(await h.queue.count(), 0, 'the fourth attempt succeeded');
    h.invoker.stop();
  });

  it('answers a journal failure with a 5xx error and accepts nothing', async () => {
    const queue = new MemoryJournal().eventQueue;
    queue.put = () => Promise.reject(new Error('disk full'));
    const h = harness({ queue });
    h.functions.set('hello', () => ok(null));
    await assert.rejects(h.invoker.accept(h.request('hello')), (err: unknown) => err instanceof StratusError && err.code === 'ServiceUnavailable');
    assert.equal(await queue.count(), 0);
  });

  it('accepts an event its put finds queued already (the journal client retried a put that had committed), and runs it once', async () => {
    const queue = new MemoryJournal().eventQueue;
    const put = queue.put.bind(queue);
    queue.put = async (item) => (await put(item), false);
    const h = harness({ queue });
    h.functions.set('hello', () => ok(null));
    await h.invoker.accept(h.request('hello', { n: 1 }, 'r-retried'));
    assert.equal(await h.queue.count(), 1);
    h.invoker.start();
    await h.settle();
    assert.deepEqual(h.calls.map((c) => c.fn), ['hello']);
    h.invoker.stop();
  });

  it('drops the events of a deleted function', async () => {
    const h = harness();
    h.functions.set('temp', () => ok(null));
    await h.invoker.accept(h.request('temp'));
    h.functions.delete('temp');
    h.invoker.start();
    await h.settle();
    assert.equal(await h.queue.count(), 0);
    assert.equal(h.calls.length, 0);
    h.invoker.stop();
  });

  it('a consumer that dies leaves a claim that expires; another consumer then runs the event', async () => {
    const clock = new ManualClock();
    const queue = new MemoryJournal().eventQueue;
    const a = harness({ clock, queue, owner: 'a' });
    const b = harness({ clock, queue, owner: 'b' });
    a.functions.set('job', () => new Promise<InvocationOutcome>(() => {}));
    b.functions.set('job', () => ok('done'));
    await a.invoker.accept(a.request('job', {}, 'r-4'));
    a.invoker.start();
    await a.settle();
    a.invoker.stop();
    a.clock.advance(1); // "a" is gone: it neither renews nor finishes
    b.invoker.start();
    await b.advance(8_000);
    assert.equal(b.calls.length, 0, 'the claim (9 s) has not expired yet');
    await b.advance(2_000);
    assert.deepEqual(b.calls.map((c) => c.fn), ['job']);
    assert.equal(await queue.count(), 0);
    b.invoker.stop();
  });

  it('a live consumer renews its claim for as long as the function runs', async () => {
    const clock = new ManualClock();
    const queue = new MemoryJournal().eventQueue;
    const a = harness({ clock, queue, owner: 'a' });
    const b = harness({ clock, queue, owner: 'b' });
    let finish: (o: InvocationOutcome) => void = () => {};
    a.functions.set('long', () => new Promise<InvocationOutcome>((resolve) => (finish = resolve)));
    b.functions.set('long', () => ok('twice'));
    a.invoker.start();
    b.invoker.start();
    await a.invoker.accept(a.request('long'));
    await a.advance(60_000, 500);
    assert.equal(b.calls.length, 0, 'b never got the event while a held it');
    finish(ok('once'));
    await a.settle();
    assert.equal(await queue.count(), 0);
    assert.equal(a.calls.length, 1);
    a.invoker.stop();
    b.invoker.stop();
  });

  it('counts events queued, their age when run, and those given up by reason (metrics)', async () => {
    const metrics = new Metrics();
    const h = harness({ metrics });
    h.functions.set('fails', () => boom);
    h.functions.set('temp', () => ok(null));
    h.settings.set('fails', { maxRetryAttempts: 0 });
    await h.invoker.accept(h.request('fails'));
    await h.invoker.accept(h.request('temp'));
    h.functions.delete('temp');
    h.clock.advance(2000);
    h.invoker.start();
    await h.settle();
    const text = await metrics.text();
    const fn = (name: string) => `account="000000000000",function="${name}"`;
    assert.match(text, new RegExp(`^stratus_async_events_queued_total\\{${fn('fails')}\\} 1$`, 'm'));
    assert.match(text, new RegExp(`^stratus_async_event_age_seconds_sum\\{${fn('fails')}\\} 2$`, 'm'));
    assert.match(text, new RegExp(`^stratus_async_events_dropped_total\\{${fn('fails')},reason="RetriesExhausted"\\} 1$`, 'm'));
    assert.match(text, new RegExp(`^stratus_async_events_dropped_total\\{${fn('temp')},reason="FunctionDeleted"\\} 1$`, 'm'));
    assert.doesNotMatch(text, new RegExp(`stratus_async_event_age_seconds_count\\{${fn('temp')}`), 'a dropped event was never attempted');
    h.invoker.stop();
  });
});
