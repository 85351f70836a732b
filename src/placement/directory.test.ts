import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal } from '../journal/index.js';
import { silentLogger } from '../shared/log.js';
import { WorkerDirectory } from './directory.js';

const doc = (id: string) => ({ id, url: `https://${id}`, status: { id, memoryMb: 128, memoryReservedMb: 0, environments: 0, cachedCode: [] } });
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('WorkerDirectory fencing (a deposed placement leader)', () => {
  it('writes while the fence allows, and neither deletes nor rewrites an entry once it does not', async () => {
    const journal = new MemoryJournal();
    let leads = true;
    const directory = new WorkerDirectory(journal.workers, silentLogger(), () => leads);
    directory.publish(doc('w1'));
    directory.publish(doc('w2'));
    await settle();
    assert.deepEqual((await directory.recorded()).map((w) => w.id), ['w1', 'w2']);
    leads = false;
    directory.remove('w1');
    directory.publish({ ...doc('w2'), url: 'https://elsewhere' });
    await settle();
    assert.deepEqual((await directory.recorded()).map((w) => [w.id, w.url]), [['w1', 'https://w1'], ['w2', 'https://w2']]);
    leads = true;
    directory.remove('w1');
    await settle();
    assert.deepEqual((await directory.recorded()).map((w) => w.id), ['w2']);
  });

  it('checks the fence when the write is made, not when it was asked for (a write queued before the leadership ended)', async () => {
    const journal = new MemoryJournal();
    let leads = true;
    const directory = new WorkerDirectory(journal.workers, silentLogger(), () => leads);
    directory.publish(doc('w1'));
    await settle();
    directory.remove('w1');
    leads = false;
    await settle();
    assert.deepEqual((await directory.recorded()).map((w) => w.id), ['w1']);
  });

  it('keeps a worker\'s recorded drain mark when a heartbeat\'s entry (which carries none) is written; an explicit mark replaces it', async () => {
    const journal = new MemoryJournal();
    const directory = new WorkerDirectory(journal.workers, silentLogger());
    directory.publish({ ...doc('w1'), draining: true });
    directory.publish({ ...doc('w1'), url: 'https://w1-moved' });
    await settle();
    assert.deepEqual((await directory.recorded()).map((w) => [w.url, w.draining]), [['https://w1-moved', true]]);
    directory.publish({ ...doc('w1'), draining: false });
    directory.publish(doc('w1'));
    await settle();
    assert.notEqual((await directory.recorded())[0]?.draining, true, 'undrained');
  });
});
