// The account directory on the in-memory journal: the first start's administrator (once, even
// when two processes race), keys and their owners, quotas, and refusals that change nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
import { AccountDirectory } from './accounts.js';

const DEFAULTS = { concurrency: 1000, maxFunctions: 100, totalCodeBytes: 1e9 };
const ADMIN_KEY = { accessKeyId: 'AKIAADMIN', secretAccessKey: 'admin-secret' };

function directory(journal: MemoryJournal, ids: string[] = []) {
  return new AccountDirectory({
    accounts: journal.accounts, keys: journal.accessKeys, clock: new ManualClock(), defaultQuotas: DEFAULTS,
    ...(ids.length > 0 ? { newAccountId: () => ids.shift() ?? 'none' } : {}),
  });
}

describe('AccountDirectory', () => {
  it('bootstraps one administrator with the first key, once: racing processes agree, and a deleted key stays deleted', async () => {
    const journal = new MemoryJournal();
    const first = directory(journal);
    const second = directory(journal);
    await Promise.all([first.load(), second.load()]);
    const [a, b] = await Promise.all([first.bootstrap('000000000000', ADMIN_KEY), second.bootstrap('000000000000', ADMIN_KEY)]);
    assert.deepEqual([a.accountId, b.accountId, a.admin], ['000000000000', '000000000000', true]);
    assert.equal((await journal.accounts.list()).length, 1);
    assert.equal(first.keyOwner('AKIAADMIN')?.accountId, '000000000000');
    const spare = await first.createKey('000000000000');
    await first.deleteKey('000000000000', 'AKIAADMIN');
    const restarted = directory(journal);
    await restarted.load();
    await restarted.bootstrap('000000000000', ADMIN_KEY);
    assert.equal(restarted.keyOwner('AKIAADMIN'), undefined, 'a restart does not bring a deleted administrator key back');
    assert.equal(restarted.keyOwner(spare.accessKeyId)?.accountId, '000000000000');
  });

  it('a first start cut short after its key was stored completes on the next start', async () => {
    const journal = new MemoryJournal();
    await journal.accessKeys.create('AKIAADMIN', { ...ADMIN_KEY, accountId: '000000000000', createdMs: 0 }, 'r');
    const dir = directory(journal);
    await dir.load();
    assert.equal(dir.keyOwner('AKIAADMIN'), undefined, 'a key of an account that does not exist opens nothing');
    await dir.bootstrap('000000000000', ADMIN_KEY);
    assert.equal(dir.keyOwner('AKIAADMIN')?.accountId, '000000000000');
  });

  it('creates accounts with generated ids (skipping taken ones), keys that rotate, and per-account quotas', async () => {
    const journal = new MemoryJournal();
    const dir = directory(journal, ['000000000000', 'abc', '123456789012']);
    await dir.load();
    await dir.bootstrap('000000000000', ADMIN_KEY);
    const { account, key } = await dir.create('team', { concurrency: 5 });
    assert.equal(account.accountId, '123456789012', 'a taken id and a malformed one are skipped');
    assert.deepEqual(dir.quotasOf(account.accountId), { ...DEFAULTS, concurrency: 5 });
    assert.equal(dir.keyOwner(key.accessKeyId)?.accountId, account.accountId);
    const second = await dir.createKey(account.accountId);
    await dir.deleteKey(account.accountId, key.accessKeyId);
    assert.equal(dir.keyOwner(key.accessKeyId), undefined);
    assert.equal(dir.keyOwner(second.accessKeyId)?.accountId, account.accountId);
    await assert.rejects(dir.deleteKey('000000000000', second.accessKeyId), { code: 'ResourceNotFound' }, 'a key is deleted only through its own account');
    await assert.rejects(dir.create('team'), { code: 'ResourceConflict' });
    await assert.rejects(dir.create('x', { maxFunctions: 0 }), { code: 'Validation' });
    assert.equal(dir.list().length, 2);
  });

  it('deletes an account only once it owns nothing; its keys die with it; the administrator stays', async () => {
    const dir = directory(new MemoryJournal());
    await dir.load();
    await dir.bootstrap('000000000000', ADMIN_KEY);
    const { account, key } = await dir.create('gone');
    await assert.rejects(dir.delete(account.accountId, () => 2), { code: 'ResourceConflict' });
    assert.ok(dir.keyOwner(key.accessKeyId));
    let functions = 0;
    await assert.rejects(dir.delete(account.accountId, () => functions++), { code: 'ResourceConflict', message: /gained 1 function\(s\) while it was being deleted/ });
    assert.equal(dir.keyOwner(key.accessKeyId), undefined, 'its keys are revoked, so nothing more arrives');
    assert.ok(dir.get(account.accountId), 'the account stays while it has functions');
    await dir.delete(account.accountId, () => 0);
    assert.equal(dir.get(account.accountId), undefined);
    await assert.rejects(dir.delete('000000000000', () => 0), { code: 'InvalidParameterValue' });
    await assert.rejects(dir.deleteKey('000000000000', 'AKIAADMIN'), { code: 'InvalidParameterValue' }, 'the last administrator key stays');
  });
});
