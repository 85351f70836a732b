// The environment table a follower keeps from the assignment log.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal } from '../journal/index.js';
import { EnvironmentTable, type CreatedEntry } from './environments.js';

const created = (envId: string, extra: Partial<CreatedEntry> = {}): CreatedEntry => ({
  type: 'created', envId, key: `000000000000/f:$LATEST:r`, functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f', version: '$LATEST',
  workerId: 'w1', memoryMb: 128, provisioned: false, atMs: 0, ...extra,
});

describe('EnvironmentTable', () => {
  it('leaves out entries written before functions had accounts (no function ARN), from the log and from a snapshot alike', async () => {
    const journal = new MemoryJournal();
    const { functionArn: _dropped, ...legacy } = created('old');
    await journal.assignmentLog.append(created('new'));
    await journal.assignmentLog.append({ ...legacy, functionName: 'f' });
    const table = new EnvironmentTable();
    await table.catchUp(journal.assignmentLog);
    assert.deepEqual([...table.live.keys()], ['new']);
    await journal.assignmentLog.compact({ seq: 2, state: [created('new'), { ...legacy, functionName: 'f' }] });
    const fresh = new EnvironmentTable();
    await fresh.catchUp(journal.assignmentLog);
    assert.deepEqual([...fresh.live.keys()], ['new']);
  });
});
