import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConcurrencyLimiter } from './concurrency-limiter.js';

describe('ConcurrencyLimiter', () => {
  const limiter = (reserved: Record<string, number>, accountLimit = 5) =>
    new ConcurrencyLimiter({
      accountLimit,
      reservedFor: (fn) => reserved[fn],
      reservedTotal: () => Object.values(reserved).reduce((a, b) => a + b, 0),
    });

  it('caps a function at its reserved concurrency, and 0 blocks it', () => {
    const l = limiter({ r: 2, off: 0 });
    const a = l.enter('r');
    l.enter('r');
    assert.throws(() => l.enter('r'), { code: 'TooManyRequests', details: { Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' } });
    a();
    a();
    l.enter('r');
    assert.throws(() => l.enter('off'), { details: { Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' } });
  });

  it('lets unreserved functions share what reservations leave of the account', () => {
    const l = limiter({ r: 2 }, 5);
    l.enter('x');
    l.enter('y');
    const last = l.enter('x');
    assert.throws(() => l.enter('z'), { details: { Reason: 'ConcurrentInvocationLimitExceeded' } });
    l.enter('r');
    l.enter('r');
    last();
    l.enter('z');
  });
});
