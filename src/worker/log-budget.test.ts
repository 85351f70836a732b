import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../shared/clock.js';
import { LogBudget } from './log-budget.js';

const limits = { bytesPerSecond: 1000, burstBytes: 2000, bytesPerInvoke: 5000 };

describe('LogBudget', () => {
  test('passes output within the burst untouched', () => {
    const budget = new LogBudget(limits, new ManualClock());
    assert.equal(budget.admit(Buffer.from('hello\n')), 'hello\n');
    assert.equal(budget.endPeriod(), '');
  });

  test('cuts a flood at the burst, marks the cut once, and counts what it dropped', () => {
    const budget = new LogBudget(limits, new ManualClock());
    const first = budget.admit(Buffer.alloc(1500, 'a'));
    assert.equal(first.length, 1500);
    const second = budget.admit(Buffer.alloc(1500, 'b'));
    assert.match(second, /^b{500}\n\[stratus\] function output truncated: over 1000 bytes per second\n$/);
    assert.equal(budget.admit(Buffer.alloc(100, 'c')), '', 'no second marker in the same period');
    assert.equal(budget.endPeriod(), '[stratus] 1100 bytes of function output were dropped\n');
  });

  test('refills at the rate as time passes', () => {
    const clock = new ManualClock();
    const budget = new LogBudget(limits, clock);
    budget.admit(Buffer.alloc(2000));
    assert.equal(budget.admit(Buffer.from('x')).startsWith('[stratus] function output truncated'), true);
    budget.endPeriod();
    clock.advance(500);
    assert.equal(budget.admit(Buffer.alloc(600, 'y')).length > 500, true);
    assert.equal(budget.admit(Buffer.alloc(10, 'z')).includes('z'), false);
  });

  test('an invocation gets at most bytesPerInvoke, whatever the rate; the next one starts afresh', () => {
    const clock = new ManualClock();
    const budget = new LogBudget({ bytesPerSecond: 1e9, burstBytes: 1e9, bytesPerInvoke: 100 }, clock);
    assert.match(budget.admit(Buffer.alloc(150, 'a')), /^a{100}\n\[stratus\] function output truncated: over 100 bytes per invocation\n$/);
    assert.equal(budget.endPeriod(), '[stratus] 50 bytes of function output were dropped\n');
    assert.equal(budget.admit(Buffer.alloc(100, 'b')), 'b'.repeat(100));
  });
});
