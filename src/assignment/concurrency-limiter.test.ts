import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConcurrencyLimiter, executionOwner } from './concurrency-limiter.js';

const A = '111111111111';
const B = '222222222222';
const fn = (name: string, account = A) => executionOwner(`arn:aws:lambda:us-east-1:${account}:function:${name}`);

describe('ConcurrencyLimiter', () => {
  const limiter = (reserved: Record<string, number>, accountLimit = 5) =>
    new ConcurrencyLimiter({
      accountLimit: () => accountLimit,
      reservedFor: (f) => reserved[f.functionArn],
      reservedTotal: (account) => Object.entries(reserved).filter(([arn]) => arn.includes(`:${account}:`)).reduce((a, [, b]) => a + b, 0),
    });

  it('caps a function at its reserved concurrency, and 0 blocks it', () => {
    const l = limiter({ [fn('r').functionArn]: 2, [fn('off').functionArn]: 0 });
    const a = l.enter(fn('r'));
    l.enter(fn('r'));
    assert.throws(() => l.enter(fn('r')), { code: 'TooManyRequests', details: { Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' } });
    a();
    a();
    l.enter(fn('r'));
    assert.throws(() => l.enter(fn('off')), { details: { Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' } });
  });

  it('lets unreserved functions share what reservations leave of the account', () => {
    const l = limiter({ [fn('r').functionArn]: 2 }, 5);
    l.enter(fn('x'));
    l.enter(fn('y'));
    const last = l.enter(fn('x'));
    assert.throws(() => l.enter(fn('z')), { details: { Reason: 'ConcurrentInvocationLimitExceeded' } });
    l.enter(fn('r'));
    l.enter(fn('r'));
    last();
    l.enter(fn('z'));
  });

  it('counts each account against its own limit: one account at its limit does not throttle another, nor a same-named function of another', () => {
    const l = limiter({ [fn('r').functionArn]: 1 }, 2);
    l.enter(fn('x'));
    assert.throws(() => l.enter(fn('y')), { details: { Reason: 'ConcurrentInvocationLimitExceeded' } });
    l.enter(fn('r'));
    l.enter(fn('x', B));
    l.enter(fn('r', B));
    assert.throws(() => l.enter(fn('y', B)), { details: { Reason: 'ConcurrentInvocationLimitExceeded' } });
  });
});
