import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { silentLogger } from '../shared/log.js';
import { AssignmentLogWriter } from './assignment-log.js';
import type { EnvironmentEntry } from './environments.js';

function entry(id: string): EnvironmentEntry {
  return { id, key: 'f:$LATEST:r1', functionArn: 'f', version: '$LATEST', workerId: 'w1', memoryMb: 128, state: { kind: 'busy' }, retired: false, provisioned: true };
}

describe('AssignmentLogWriter', () => {
  it('closing the previous run on a disk too full to compact starts all the same; any other failure stops it', async () => {
    const journal = new MemoryJournal();
    await journal.assignmentLog.append({ type: 'destroyed', envId: 'old', atMs: 1, reason: 'x' });
    const failing = (code: 'DiskFull' | 'Internal') => ({
      ...journal.assignmentLog,
      readAfter: journal.assignmentLog.readAfter.bind(journal.assignmentLog),
      readSnapshot: journal.assignmentLog.readSnapshot.bind(journal.assignmentLog),
      append: journal.assignmentLog.append.bind(journal.assignmentLog),
      compact: async () => { throw new StratusError(code, 'no room'); },
    });
    await new AssignmentLogWriter({ log: failing('DiskFull'), clock: new ManualClock(), logger: silentLogger(), live: () => [] }).closePreviousRun();
    await assert.rejects(new AssignmentLogWriter({ log: failing('Internal'), clock: new ManualClock(), logger: silentLogger(), live: () => [] }).closePreviousRun(), /no room/);
  });

  it('records creations and destructions with the time and reason', async () => {
    const clock = new ManualClock(1000);
    const journal = new MemoryJournal();
    const writer = new AssignmentLogWriter({ log: journal.assignmentLog, clock, logger: silentLogger(), live: () => [] });
    await writer.created(entry('a'));
    clock.advance(5);
    await writer.destroyed('a', 'keep-alive expired');
    assert.deepEqual((await journal.assignmentLog.readAfter(0)).map((e) => e.entry), [
      { type: 'created', envId: 'a', key: 'f:$LATEST:r1', functionArn: 'f', version: '$LATEST', workerId: 'w1', memoryMb: 128, provisioned: true, atMs: 1000 },
      { type: 'destroyed', envId: 'a', atMs: 1005, reason: 'keep-alive expired' },
    ]);
  });

  it('every compactEvery appends, snapshots the live environments and drops the entries before', async () => {
    const journal = new MemoryJournal();
    const live = [entry('a'), entry('b')];
    const writer = new AssignmentLogWriter({ log: journal.assignmentLog, clock: new ManualClock(), logger: silentLogger(), compactEvery: 3, live: () => live });
    for (const id of ['a', 'b', 'c']) await writer.created(entry(id));
    await writer.destroyed('c', 'failed');
    const snapshot = await journal.assignmentLog.readSnapshot();
    assert.equal(snapshot?.seq, 3);
    assert.deepEqual((snapshot?.state as { envId: string }[]).map((e) => e.envId), ['a', 'b']);
    assert.deepEqual((await journal.assignmentLog.readAfter(0)).map((e) => e.seq), [4]);
  });

  it('closes the environments a previous run left, leaving an empty table', async () => {
    const journal = new MemoryJournal();
    const first = new AssignmentLogWriter({ log: journal.assignmentLog, clock: new ManualClock(), logger: silentLogger(), live: () => [] });
    await first.created(entry('old'));
    await first.closePreviousRun();
    assert.deepEqual(await journal.assignmentLog.readAfter(0), []);
    assert.deepEqual((await journal.assignmentLog.readSnapshot())?.state, []);
  });
});
