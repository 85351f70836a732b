import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from './metrics.js';

const fn = { account: '123456789012', function: 'echo', version: '$LATEST' };

test('two Metrics in one process are independent registries (no global default registry)', async () => {
  const one = new Metrics();
  const two = new Metrics();
  one.invocation(fn, false, 12);
  two.gauge('stratus_test_gauge', 'a gauge', [], () => [[{}, 1]]);
  assert.match(await one.text(), /^stratus_invocations_total\{account="123456789012",function="echo",version="\$LATEST"\} 1$/m);
  assert.doesNotMatch(await two.text(), /stratus_invocations_total\{/);
  assert.doesNotMatch(await one.text(), /stratus_test_gauge/);
});

test('an invocation counts once, an error also as an error, its duration in seconds; an alias is a label only when invoked', async () => {
  const m = new Metrics();
  m.invocation(fn, false, 250);
  m.invocation({ ...fn, version: '3', alias: 'live' }, true, 1500);
  m.invocation(fn, true, undefined); // a platform failure: no duration
  m.throttle(fn);
  const text = await m.text();
  assert.match(text, /^stratus_invocations_total\{account="123456789012",function="echo",version="\$LATEST"\} 2$/m);
  assert.match(text, /^stratus_invocations_total\{account="123456789012",function="echo",version="3",alias="live"\} 1$/m);
  assert.match(text, /^stratus_invocation_errors_total\{account="123456789012",function="echo",version="\$LATEST"\} 1$/m);
  assert.match(text, /^stratus_invocation_duration_seconds_sum\{account="123456789012",function="echo",version="\$LATEST"\} 0\.25$/m);
  assert.match(text, /^stratus_invocation_duration_seconds_count\{account="123456789012",function="echo",version="\$LATEST"\} 1$/m);
  assert.match(text, /^stratus_throttles_total\{account="123456789012",function="echo",version="\$LATEST"\} 1$/m);
});

test('gauges and counters read on scrape reflect the state at each scrape, and drop series that are gone', async () => {
  const m = new Metrics();
  let states: [string, number][] = [['idle', 2], ['busy', 1]];
  let hits = 5;
  m.gauge('stratus_test_environments', 'by state', ['state'], () => states.map(([state, n]) => [{ state }, n]));
  m.counterReadOnScrape('stratus_test_hits_total', 'hits', [], () => [[{}, hits]]);
  assert.match(await m.text(), /^stratus_test_environments\{state="busy"\} 1$/m);
  states = [['idle', 3]];
  hits = 7;
  const text = await m.text();
  assert.match(text, /^stratus_test_environments\{state="idle"\} 3$/m);
  assert.doesNotMatch(text, /state="busy"/);
  assert.match(text, /^# TYPE stratus_test_hits_total counter$/m);
  assert.match(text, /^stratus_test_hits_total 7$/m);
});

test('a deleted function\'s series go with it (every metric, version, alias and kind), and no other function\'s', async () => {
  const m = new Metrics();
  const other = { ...fn, function: 'other' };
  m.invocation(fn, true, 250);
  m.invocation({ ...fn, version: '3', alias: 'live' }, false, 10);
  m.throttle(fn);
  m.coldStart(fn, 'boot', 80);
  m.asyncQueuedEvent(fn.account, fn.function);
  m.asyncAttempt(fn.account, fn.function, 5);
  m.asyncDroppedEvent(fn.account, fn.function, 'RetriesExhausted');
  m.invocation(other, false, 1);
  m.forgetFunction(fn.account, fn.function);
  const text = await m.text();
  assert.doesNotMatch(text, /function="echo"/);
  assert.match(text, /^stratus_invocations_total\{account="123456789012",function="other",version="\$LATEST"\} 1$/m);
  m.invocation(fn, false, 1);
  assert.match(await m.text(), /^stratus_invocations_total\{account="123456789012",function="echo",version="\$LATEST"\} 1$/m, 'a new function of the same name starts from zero');
});
