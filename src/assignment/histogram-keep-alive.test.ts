import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keepAliveSchema, type KeepAliveConfig } from '../shared/config.js';
import { fakeFunction } from '../../test/helpers/fake-worker.js';
import type { FunctionVersion } from '../registry/index.js';
import { HistogramKeepAlive } from './histogram-keep-alive.js';

const MIN = 60_000;
const FALLBACK = 10 * MIN;
const T0 = 1_700_000_000_000;

function policy(opts: Partial<KeepAliveConfig> = {}): HistogramKeepAlive {
  return new HistogramKeepAlive(keepAliveSchema.parse({ policy: 'histogram', ...opts }), FALLBACK);
}

function fnOf(name: string, accountId = '000000000000'): FunctionVersion {
  const fn = fakeFunction(name);
  return { ...fn, accountId, functionArn: `arn:aws:lambda:us-east-1:${accountId}:function:${name}` };
}

/** Invokes of `fn` (its key is its name), each ending at once, separated by the given idle times. */
function replay(p: HistogramKeepAlive, fn: FunctionVersion, idleTimesMs: number[], startMs = T0): number {
  let now = startMs;
  p.arrived(fn, fn.name, now);
  p.ended({ key: fn.name, provisioned: false }, now);
  for (const idle of idleTimesMs) {
    now += idle;
    p.arrived(fn, fn.name, now);
    p.ended({ key: fn.name, provisioned: false }, now);
  }
  return now;
}

describe('HistogramKeepAlive', () => {
  it('keeps the fixed keep-alive until it has seen enough idle times', () => {
    const p = policy({ minSamples: 10 });
    replay(p, fnOf('timer'), Array(9).fill(60 * MIN + 5000));
    assert.deepEqual(p.windowFor('timer'), { prewarmMs: 0, keepAliveMs: FALLBACK });
  });

  it('for an hourly timer: unloads after the invoke, pre-warms at 0.9 x the head and keeps to 1.1 x the tail', () => {
    const p = policy({ minSamples: 10 });
    const fn = fnOf('timer');
    const end = replay(p, fn, Array(10).fill(60 * MIN + 5000));
    // Every idle time is in the bin [60, 61) min: head 60 min, tail 61 min.
    const window = { prewarmMs: 54 * MIN, keepAliveMs: Math.round(61 * MIN * 1.1) - 54 * MIN };
    assert.deepEqual(p.windowFor('timer'), window);
    assert.deepEqual(p.duePrewarms(end + 54 * MIN - 1), [], 'not before the head');
    assert.deepEqual(p.duePrewarms(end + 54 * MIN), [{ fn, key: 'timer', keepAliveMs: window.keepAliveMs }]);
    assert.deepEqual(p.duePrewarms(end + 55 * MIN), [], 'each pre-warm is returned once');
  });

  it('an arrival before the pre-warm cancels it', () => {
    const p = policy({ minSamples: 5 });
    const fn = fnOf('timer');
    const end = replay(p, fn, Array(5).fill(30 * MIN));
    p.arrived(fn, 'timer', end + 5 * MIN);
    assert.deepEqual(p.duePrewarms(end + 40 * MIN), []);
  });

  it('for a function invoked every few seconds: no pre-warm, kept ~1.1 bins (not the fixed 10 minutes)', () => {
    const p = policy({ minSamples: 10 });
    replay(p, fnOf('busy'), Array(50).fill(2000));
    assert.deepEqual(p.windowFor('busy'), { prewarmMs: 0, keepAliveMs: Math.round(MIN * 1.1) });
  });

  it('falls back to the fixed keep-alive for idle times spread flat over the range (coefficient of variation < 2)', () => {
    const p = policy({ minSamples: 10 });
    replay(p, fnOf('random'), Array.from({ length: 240 }, (_, i) => i * MIN + 1000));
    assert.deepEqual(p.windowFor('random'), { prewarmMs: 0, keepAliveMs: FALLBACK });
  });

  it('a few idle times scattered over the range are no pattern, though their bin counts vary a lot', () => {
    const p = policy({ minSamples: 10 });
    replay(p, fnOf('sparse'), Array.from({ length: 12 }, (_, i) => (i * 19 + 3) * MIN));
    assert.deepEqual(p.windowFor('sparse'), { prewarmMs: 0, keepAliveMs: FALLBACK });
  });

  it('falls back when the tail is beyond the range (idle times longer than 4 hours)', () => {
    const p = policy({ minSamples: 10 });
    replay(p, fnOf('rare'), [...Array(10).fill(30 * MIN), ...Array(10).fill(5 * 60 * MIN)]);
    assert.deepEqual(p.windowFor('rare'), { prewarmMs: 0, keepAliveMs: FALLBACK });
  });

  it('a provisioned environment gets no window of its own and schedules no pre-warm', () => {
    const p = policy({ minSamples: 5 });
    const fn = fnOf('timer');
    const end = replay(p, fn, Array(5).fill(30 * MIN));
    p.arrived(fn, 'timer', end + 30 * MIN);
    assert.deepEqual(p.ended({ key: 'timer', provisioned: true }, end + 30 * MIN), { prewarmMs: 0, keepAliveMs: FALLBACK });
    assert.deepEqual(p.duePrewarms(end + 200 * MIN), []);
  });

  it('a changed function forgets what was learnt of its old revisions, not of the current one', () => {
    const p = policy({ minSamples: 5 });
    const fn = fnOf('timer');
    const end = replay(p, fn, Array(5).fill(30 * MIN));
    p.retire(fn.functionArn, undefined, 'timer');
    assert.equal(p.footprint().functions, 1);
    p.retire(fn.functionArn, undefined, 'another key');
    assert.deepEqual(p.footprint(), { functions: 0, accounts: 0, pending: 0, histogramBytes: 0 });
    assert.deepEqual(p.duePrewarms(end + 60 * MIN), []);
  });

  it('a bin that fills up halves the histogram instead of wrapping around', () => {
    const p = policy({ minSamples: 5 });
    replay(p, fnOf('hot'), Array(70_000).fill(10));
    assert.deepEqual(p.windowFor('hot'), { prewarmMs: 0, keepAliveMs: Math.round(MIN * 1.1) });
  });

  it('memory stays bounded: a tenant with 10,000 functions keeps at most its share, and another tenant keeps its histograms (attack)', () => {
    const p = policy({ minSamples: 5, maxFunctions: 2000, maxFunctionsPerAccount: 500 });
    const victim = fnOf('victim-timer', '111111111111');
    let now = replay(p, victim, Array(5).fill(30 * MIN));
    for (let i = 0; i < 10_000; i++) {
      const fn = fnOf(`f${i}`, '666666666666');
      now += 10;
      p.arrived(fn, fn.name, now);
      p.ended({ key: fn.name, provisioned: false }, now);
      p.arrived(fn, fn.name, now + 5);
    }
    const footprint = p.footprint();
    assert.equal(footprint.functions, 501, 'the attacker keeps 500, the victim its one');
    assert.equal(footprint.histogramBytes, 501 * (240 * 2 + 16 * 8));
    assert.equal(p.windowFor('victim-timer').prewarmMs, 27 * MIN, 'the victim still gets its learnt window');
  });

  it('memory stays bounded over many tenants: never more than maxFunctions histograms', () => {
    const p = policy({ maxFunctions: 1000, maxFunctionsPerAccount: 100 });
    for (let a = 0; a < 100; a++) {
      for (let i = 0; i < 100; i++) p.arrived(fnOf(`f${i}`, String(a).padStart(12, '0')), `${a}/${i}`, T0 + a * 100 + i);
    }
    const footprint = p.footprint();
    assert.equal(footprint.functions, 1000);
    assert.ok(footprint.accounts <= 1000);
    assert.equal(footprint.histogramBytes, 1000 * (240 * 2 + 16 * 8));
  });
});
