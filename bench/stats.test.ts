import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, percentile, ratio, spread, summarize, summarizeRoundPercentiles } from './stats.js';

test('percentile interpolates between closest ranks', () => {
  const values = [5, 1, 4, 2, 3]; // unsorted on purpose
  assert.equal(percentile(values, 0), 1);
  assert.equal(percentile(values, 50), 3);
  assert.equal(percentile(values, 100), 5);
  assert.equal(percentile(values, 90), 4.6);
  assert.equal(percentile([10, 20], 50), 15);
  assert.equal(percentile([7], 99), 7);
});

test('percentile of nothing is NaN and a bad p is rejected', () => {
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.throws(() => percentile([1], 101), RangeError);
});

test('p99 of 1..100 sits just below the maximum', () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(median(values), 50.5);
  assert.ok(Math.abs(percentile(values, 99) - 99.01) < 1e-9);
});

test('spread is the range of the round values relative to their median', () => {
  assert.deepEqual(spread([10, 12, 11]), { min: 10, max: 12, relPct: (2 / 11) * 100 });
  assert.equal(spread([3, 3, 3]).relPct, 0);
});

test('summarize pools samples for percentiles and keeps per-round medians', () => {
  const s = summarize([[1, 2, 3], [], [10, 20, 30]]);
  assert.equal(s.n, 6);
  assert.equal(s.rounds, 2);
  assert.deepEqual(s.roundMedians, [2, 20]);
  assert.equal(s.median, 6.5);
  assert.equal(s.min, 1);
  assert.equal(s.max, 30);
  assert.equal(s.spread.relPct, (18 / 11) * 100);
});

test('summarizeRoundPercentiles takes the median of each percentile over rounds', () => {
  const s = summarizeRoundPercentiles([
    { p50: 1, p90: 2, p99: 3, n: 100 },
    { p50: 2, p90: 4, p99: 9, n: 100 },
    { p50: 3, p90: 6, p99: 5, n: 50 },
  ]);
  assert.equal(s.n, 250);
  assert.equal(s.median, 2);
  assert.equal(s.p90, 4);
  assert.equal(s.p99, 5);
  assert.equal(s.max, 9);
});

test('ratio is NaN rather than Infinity when a side is missing', () => {
  assert.equal(ratio(3, 2), 1.5);
  assert.ok(Number.isNaN(ratio(1, 0)));
  assert.ok(Number.isNaN(ratio(Number.NaN, 1)));
});
