import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryJournal, SqliteJournal } from '../../src/journal/index.js';
import { runJournalContract } from './journal.contract.js';

runJournalContract('MemoryJournal', async () => ({ journal: new MemoryJournal(), cleanup: async () => {} }));

runJournalContract('SqliteJournal', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'stratus-journal-'));
  return { journal: new SqliteJournal(join(dir, 'journal.db')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe('SqliteJournal event queue on one file shared by two journals (two processes)', () => {
  it('hands each item to one owner and keeps every item across a reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stratus-journal-'));
    const path = join(dir, 'journal.db');
    const a = new SqliteJournal(path);
    const b = new SqliteJournal(path);
    try {
      await Promise.all(Array.from({ length: 20 }, (_, i) => a.eventQueue.put({ id: `e${i}`, dueAtMs: 1, value: { i } })));
      const [fromA, fromB] = await Promise.all([a.eventQueue.claim('A', 10, 1000, 15), b.eventQueue.claim('B', 10, 1000, 15)]);
      const ids = [...fromA, ...fromB].map((e) => e.id);
      assert.equal(ids.length, 20);
      assert.equal(new Set(ids).size, 20, 'no item went to both');
      await b.close();
      const reopened = new SqliteJournal(path);
      try {
        assert.equal(await reopened.eventQueue.count(), 20);
        assert.equal((await reopened.eventQueue.claim('C', 1010, 1000, 100)).length, 20, 'claims of a closed journal expire');
      } finally {
        await reopened.close();
      }
    } finally {
      await a.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

it('SqliteJournal: election epochs keep increasing across a restart', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'stratus-journal-'));
  try {
    const first = new SqliteJournal(join(dir, 'journal.db'));
    const a = await first.election('assignment', 1000).campaign({ id: 'a', address: 'http://a' });
    await first.close();
    const second = new SqliteJournal(join(dir, 'journal.db'));
    const b = await second.election('assignment', 1000).campaign({ id: 'b', address: 'http://b' });
    assert.ok(b.epoch > a.epoch, `epoch ${b.epoch} after ${a.epoch}`);
    await b.resign();
    await second.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
