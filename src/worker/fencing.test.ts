import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fakeSpec, FakeWorker } from '../../test/helpers/fake-worker.js';
import { isStratusError } from '../shared/errors.js';
import { FencedWorkerAgent } from './fencing.js';

const fenced = (err: unknown) => isStratusError(err) && err.code === 'Fenced';
const invocation = (epoch?: number) => ({ requestId: 'r', payload: Buffer.from('{}'), invokedFunctionArn: 'arn', traceId: 't', tailLog: false, epoch });

describe('FencedWorkerAgent', () => {
  it('refuses every call of a leadership older than the newest seen, before the agent acts', async () => {
    const inner = new FakeWorker('w1');
    const agent = new FencedWorkerAgent(inner);
    await agent.createEnvironment('e1', fakeSpec('f'), { epoch: 5 });
    assert.deepEqual(await agent.environments(7), [{ envId: 'e1', busy: false }]);
    assert.equal(agent.epoch, 7);
    await assert.rejects(agent.createEnvironment('e2', fakeSpec('f'), { epoch: 5 }), fenced);
    await assert.rejects(agent.destroyEnvironment('e1', 6), fenced);
    await assert.rejects(agent.invoke('e1', invocation(5)), fenced);
    await assert.rejects(agent.environments(6), fenced);
    assert.deepEqual(inner.created, ['e1'], 'nothing refused reached the agent');
    assert.deepEqual(inner.destroyed, []);
    await agent.destroyEnvironment('e1', 7);
    assert.deepEqual(inner.destroyed, ['e1']);
  });

  it('a call of a newer leadership raises the fence; calls without an epoch (one machine) always pass', async () => {
    const inner = new FakeWorker('w1');
    const agent = new FencedWorkerAgent(inner);
    await agent.createEnvironment('e1', fakeSpec('f'));
    await agent.destroyEnvironment('e1', 9);
    assert.equal(agent.epoch, 9);
    await assert.rejects(agent.createEnvironment('e2', fakeSpec('f'), { epoch: 8 }), fenced);
    await agent.createEnvironment('e3', fakeSpec('f'));
    assert.deepEqual(await agent.environments(), [{ envId: 'e3', busy: false }]);
  });

  it('offers createSnapshot only when the agent it wraps does', () => {
    assert.equal(new FencedWorkerAgent(new FakeWorker('w1')).createSnapshot, undefined);
    const snapshotting = Object.assign(new FakeWorker('w2'), { createSnapshot: async () => ({ tar: Buffer.alloc(0), sha256: 'x' }) });
    assert.ok(new FencedWorkerAgent(snapshotting).createSnapshot);
  });
});
