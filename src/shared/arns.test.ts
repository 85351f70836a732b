import assert from 'node:assert/strict';
import { test } from 'node:test';
import { functionArn, functionOfArn } from './arns.js';

test('a function ARN, unqualified or qualified, and the account and name read back from it', () => {
  assert.equal(functionArn('us-east-1', '123456789012', 'echo'), 'arn:aws:lambda:us-east-1:123456789012:function:echo');
  assert.equal(functionArn('us-east-1', '123456789012', 'echo', 'live'), 'arn:aws:lambda:us-east-1:123456789012:function:echo:live');
  assert.deepEqual(functionOfArn('arn:aws:lambda:us-east-1:123456789012:function:echo'), { accountId: '123456789012', name: 'echo' });
  assert.deepEqual(functionOfArn('arn:aws:lambda:us-east-1:123456789012:function:echo:live'), { accountId: '123456789012', name: 'echo' });
});
