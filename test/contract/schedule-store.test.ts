import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryJournal, SqliteJournal } from '../../src/journal/index.js';
import { runScheduleStoreContract } from './schedule-store.contract.js';

runScheduleStoreContract('MemoryJournal', async () => ({ journal: new MemoryJournal(), cleanup: async () => {} }));

runScheduleStoreContract('SqliteJournal', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'stratus-schedules-'));
  const path = join(dir, 'journal.db');
  const open: SqliteJournal[] = [new SqliteJournal(path)];
  return {
    journal: open[0]!,
    async reopen() {
      await open.shift()!.close();
      const again = new SqliteJournal(path);
      open.push(again);
      return again;
    },
    async second() {
      const other = new SqliteJournal(path);
      open.push(other);
      return other;
    },
    async cleanup() {
      for (const j of open) await j.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
