import assert from 'node:assert/strict';
import { it } from 'node:test';
import { BootGate } from './boot-gate.js';

it('lets at most `limit` boots run at once, in arrival order, and ignores double releases', async () => {
  const gate = new BootGate(2);
  const order: number[] = [];
  const a = await gate.enter();
  const b = await gate.enter();
  const c = gate.enter().then((release) => (order.push(3), release));
  const d = gate.enter().then((release) => (order.push(4), release));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [], 'the third and fourth wait');
  a();
  a();
  const releaseC = await c;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [3], 'one release lets exactly one in');
  b();
  (await d)();
  releaseC();
  const e = await gate.enter();
  const f = await gate.enter();
  e();
  f();
});
