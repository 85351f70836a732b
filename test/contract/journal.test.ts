import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { MemoryJournal, SqliteJournal } from '../../src/journal/index.js';
import { runJournalContract } from './journal.contract.js';

runJournalContract('MemoryJournal', async () => ({ journal: new MemoryJournal(), cleanup: async () => {} }));

runJournalContract('SqliteJournal', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'stratus-journal-'));
  return { journal: new SqliteJournal(join(dir, 'journal.db')), cleanup: () => rm(dir, { recursive: true, force: true }) };
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
