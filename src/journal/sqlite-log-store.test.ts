import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStratusError } from '../shared/errors.js';
import { SqliteLogStore } from './sqlite-log-store.js';

const A = '111111111111';
const G = '/aws/lambda/f';

describe('SqliteLogStore appendAll', () => {
  test('an append SQLite refuses for good is refused alone (not retryable); the rest of the shipment is stored', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stratus-sqlite-logs-'));
    const path = join(dir, 'logs.db');
    const logs = new SqliteLogStore(path);
    try {
      // A real refusal by SQLite for one stream's batch: a trigger aborts its stream's creation.
      const db = new Database(path);
      db.exec("CREATE TRIGGER poison BEFORE INSERT ON log_streams WHEN NEW.name = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned stream'); END");
      db.close();
      const ev = (message: string) => [{ timestamp: 1000, message }];
      const answers = await logs.appendAll([
        { accountId: A, group: G, stream: 'a', events: ev('one') },
        { accountId: A, group: '/aws/lambda/other', stream: 'poison', events: ev('bad') },
        { accountId: A, group: G, stream: 'b', events: ev('two') },
      ], 2000);
      assert.equal(answers[0], undefined);
      assert.equal(answers[2], undefined);
      const refused = answers[1];
      assert.ok(isStratusError(refused) && !refused.retryable, `refused for good: ${String(refused)}`);
      assert.match(refused.message, /poisoned stream/);
      const events = await logs.events(A, G, { limit: 10 });
      assert.deepEqual(events?.map((e) => [e.stream, e.message]), [['a', 'one'], ['b', 'two']]);
      assert.deepEqual((await logs.groups(A)).map((g) => [g.name, g.storedBytes]), [['/aws/lambda/f', 58]],
        "the refused append's savepoint is rolled back whole: not even its group was made");
      await assert.rejects(logs.append(A, G, 'poison', ev('again'), 3000), (err) => isStratusError(err) && !err.retryable);
    } finally {
      await logs.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
