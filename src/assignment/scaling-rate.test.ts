import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ManualClock } from '../shared/clock.js';
import { ScalingRate } from './scaling-rate.js';

it('grants `burst` new environments per window per function, refilling as time passes', () => {
  const clock = new ManualClock();
  const rate = new ScalingRate(clock, 3, 1000);
  assert.deepEqual([rate.take('f'), rate.take('f'), rate.take('f'), rate.take('f')], [true, true, true, false]);
  assert.equal(rate.take('g'), true, 'each function has its own budget');
  clock.advance(334);
  assert.equal(rate.take('f'), true, 'a third of the window refills one');
  assert.equal(rate.take('f'), false);
  clock.advance(10_000);
  assert.deepEqual([rate.take('f'), rate.take('f'), rate.take('f'), rate.take('f')], [true, true, true, false], 'never more than the burst');
});
