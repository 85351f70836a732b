import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Journal } from '../../src/journal/index.js';

/** The contract every Journal engine passes (SQLite, in-memory, later etcd). */
export function runJournalContract(name: string, newJournal: () => Promise<{ journal: Journal; cleanup(): Promise<void> }>): void {
  describe(`Journal contract: ${name}`, () => {
    const withJournal = (fn: (j: Journal) => Promise<void>) => async () => {
      const { journal, cleanup } = await newJournal();
      try {
        await fn(journal);
      } finally {
        await journal.close();
        await cleanup();
      }
    };

    it('creates a document once and refuses a duplicate key', withJournal(async (j) => {
      assert.equal(await j.functions.create('a', { x: 1 }, 'r1'), true);
      assert.equal(await j.functions.create('a', { x: 2 }, 'r2'), false);
      assert.deepEqual(await j.functions.get('a'), { key: 'a', value: { x: 1 }, revision: 'r1' });
    }));

    it('replaces only on the expected revision', withJournal(async (j) => {
      await j.functions.create('a', { x: 1 }, 'r1');
      assert.equal(await j.functions.replace('a', { x: 2 }, 'r2', 'wrong'), false);
      assert.equal(await j.functions.replace('a', { x: 2 }, 'r2', 'r1'), true);
      assert.deepEqual((await j.functions.get('a'))?.value, { x: 2 });
      assert.equal(await j.functions.replace('missing', {}, 'r', 'r'), false);
    }));

    it('lists in key order and deletes', withJournal(async (j) => {
      await j.functions.create('b', 2, 'r');
      await j.functions.create('a', 1, 'r');
      assert.deepEqual((await j.functions.list()).map((d) => d.key), ['a', 'b']);
      assert.equal(await j.functions.delete('a'), true);
      assert.equal(await j.functions.delete('a'), false);
      assert.equal(await j.functions.get('a'), undefined);
    }));

    it('keeps each document collection apart, with its own revisions', withJournal(async (j) => {
      const stores = { functions: j.functions, versions: j.versions, aliases: j.aliases, functionUrls: j.functionUrls };
      for (const [name, store] of Object.entries(stores)) {
        assert.equal(await store.create('fn:1', { from: name }, `r-${name}`), true, `${name} accepts a key the others hold`);
      }
      for (const [name, store] of Object.entries(stores)) {
        assert.deepEqual(await store.get('fn:1'), { key: 'fn:1', value: { from: name }, revision: `r-${name}` });
        assert.deepEqual((await store.list()).map((d) => d.key), ['fn:1']);
      }
      assert.equal(await j.versions.replace('fn:1', {}, 'r2', 'r-functions'), false, 'revisions are per collection');
      assert.equal(await j.aliases.delete('fn:1'), true);
      assert.equal(await j.aliases.get('fn:1'), undefined);
      assert.deepEqual((await j.functionUrls.get('fn:1'))?.value, { from: 'functionUrls' }, 'a delete touches one collection');
    }));

    it('appends log entries in order and truncates a prefix', withJournal(async (j) => {
      const s1 = await j.assignmentLog.append({ type: 'created', id: 1 });
      const s2 = await j.assignmentLog.append({ type: 'destroyed', id: 1 });
      assert.ok(s2 > s1);
      assert.deepEqual(await j.assignmentLog.readAfter(0), [
        { seq: s1, entry: { type: 'created', id: 1 } },
        { seq: s2, entry: { type: 'destroyed', id: 1 } },
      ]);
      assert.deepEqual((await j.assignmentLog.readAfter(s1)).map((e) => e.seq), [s2]);
      await j.assignmentLog.truncate(s1);
      assert.deepEqual((await j.assignmentLog.readAfter(0)).map((e) => e.seq), [s2]);
      const s3 = await j.assignmentLog.append({ type: 'created', id: 2 });
      assert.ok(s3 > s2, 'sequence numbers never go back after truncation');
    }));
  });
}
