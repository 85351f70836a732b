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
