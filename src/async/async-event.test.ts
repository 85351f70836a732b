import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { destinationEvent, functionTarget, invocationRecord, newQueuedInvocation, readQueuedInvocation, toRunRequest } from './async-event.js';

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:';

describe('queued async events', () => {
  it('round-trips an accepted invoke through its JSON form', () => {
    const traceHeader = 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1';
    const item = newQueuedInvocation({
      accountId: '123456789012', functionName: 'f', qualifier: 'live', requestId: 'r-1', payload: Buffer.from('{"a":1}'), tailLog: false, traceHeader,
    }, 5);
    const ev = readQueuedInvocation(JSON.parse(JSON.stringify(item.value)), '000000000000');
    assert.deepEqual(ev, {
      v: 1, accountId: '123456789012', functionName: 'f', qualifier: 'live', requestId: 'r-1', payload: 'eyJhIjoxfQ==', traceHeader,
      acceptedAtMs: 5, attempts: 0, functionErrors: 0, platformErrors: 0,
    });
    assert.equal(toRunRequest(ev).traceHeader, traceHeader, 'the event\'s invocations continue the caller\'s trace');
    assert.equal(item.id, 'r-1');
    assert.throws(() => readQueuedInvocation({ v: 2 }, '000000000000'), /unreadable queued event/);
    const { accountId: _a, ...unowned } = item.value as Record<string, unknown>;
    assert.equal(readQueuedInvocation(unowned, '000000000000').accountId, '000000000000', 'an event queued before there were accounts is the administrator\'s');
  });

  it('gives the record of one finished event always the same destination request id, a UUID', () => {
    const a = destinationEvent({ accountId: '000000000000', functionName: 'dlq' }, { x: 1 }, 'event-1', 10);
    const again = destinationEvent({ accountId: '000000000000', functionName: 'dlq' }, { x: 1 }, 'event-1', 99);
    const other = destinationEvent({ accountId: '000000000000', functionName: 'dlq' }, { x: 1 }, 'event-2', 10);
    assert.equal(a.id, again.id);
    assert.notEqual(a.id, other.id);
    assert.match(a.id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('reads destination ARNs of functions, qualified or not, and nothing else', () => {
    assert.deepEqual(functionTarget(`${ARN}dlq`), { accountId: '000000000000', functionName: 'dlq' });
    assert.deepEqual(functionTarget(`${ARN}dlq:live`), { accountId: '000000000000', functionName: 'dlq', qualifier: 'live' });
    assert.equal(functionTarget('arn:aws:sqs:us-east-1:000000000000:q'), undefined);
  });

  it('leaves the response out of the record of an event that never ran', () => {
    const item = newQueuedInvocation({ accountId: '000000000000', functionName: 'f', qualifier: undefined, requestId: 'r', payload: Buffer.from('not json'), tailLog: false }, 0);
    const record = invocationRecord(readQueuedInvocation(item.value, '000000000000'), `${ARN}f`, 'EventAgeExceeded', 0);
    assert.deepEqual(record, {
      version: '1.0', timestamp: '1970-01-01T00:00:00.000Z',
      requestContext: { requestId: 'r', functionArn: `${ARN}f:$LATEST`, condition: 'EventAgeExceeded', approximateInvokeCount: 0 },
      requestPayload: 'not json',
    });
  });
});
