import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../shared/clock.js';
import { Metrics } from '../../shared/metrics.js';
import { ChartSampler } from './charts.js';

const fn = (name: string, account = '111111111111') => ({ account, function: name, version: '$LATEST' });

test('charts count what happened between samples, per function and account, with the last interval up to now', async () => {
  const clock = new ManualClock(0);
  const metrics = new Metrics();
  const charts = new ChartSampler({ metrics, clock, intervalMs: 1000, samples: 3 });
  charts.start();
  metrics.invocation(fn('a'), false, 5);
  metrics.invocation({ ...fn('a'), version: '1', alias: 'live' }, true, 5);
  metrics.coldStart(fn('a'), 'boot', 100);
  metrics.invocation(fn('a', '222222222222'), false, 5);
  clock.advance(1000);
  await new Promise((r) => setImmediate(r));
  metrics.throttle(fn('a'));
  clock.advance(500);
  const points = await charts.points('111111111111', 'a');
  assert.deepEqual(points, [
    { t: 1000, invocations: 2, errors: 1, throttles: 0, coldStarts: 1 },
    { t: 1500, invocations: 0, errors: 0, throttles: 1, coldStarts: 0 },
  ]);
  assert.deepEqual((await charts.points('222222222222', 'a')).map((p) => p.invocations), [1, 0]);
  assert.deepEqual(await charts.points('111111111111', 'none'), []);
  charts.stop();
});

test('the ring is bounded; a deleted function (its series forgotten) loses its ring', async () => {
  const clock = new ManualClock(0);
  const metrics = new Metrics();
  const charts = new ChartSampler({ metrics, clock, intervalMs: 1000, samples: 3 });
  for (let i = 1; i <= 6; i++) {
    metrics.invocation(fn('a'), false, 1);
    clock.advance(1000);
    await charts.sample();
  }
  const points = await charts.points('111111111111', 'a');
  // Three samples (4 s, 5 s, 6 s) and now: the first full sample is not counted from zero.
  assert.deepEqual(points.map((p) => [p.t, p.invocations]), [[5000, 1], [6000, 1], [6000, 0]]);
  metrics.forgetFunction('111111111111', 'a');
  await charts.sample();
  assert.deepEqual(await charts.points('111111111111', 'a'), []);
});
