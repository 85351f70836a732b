import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLogStore, SqliteJournal } from '../../src/journal/index.js';
import { runLogStoreContract } from './log-store.contract.js';

runLogStoreContract('MemoryLogStore', async () => ({ logs: new MemoryLogStore(), cleanup: async () => {} }));

runLogStoreContract('SqliteJournal', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'stratus-logs-'));
  const path = join(dir, 'journal.db');
  const open: SqliteJournal[] = [new SqliteJournal(path)];
  const close = async (j: SqliteJournal) => {
    if (open.includes(j)) await j.close();
    open.splice(open.indexOf(j), 1);
  };
  return {
    logs: open[0]!.logs,
    async reopen() {
      await close(open[0]!);
      const again = new SqliteJournal(path);
      open.push(again);
      return again.logs;
    },
    async second() {
      const other = new SqliteJournal(path);
      open.push(other);
      return other.logs;
    },
    async cleanup() {
      for (const j of [...open]) await close(j);
      await rm(dir, { recursive: true, force: true });
    },
  };
});
