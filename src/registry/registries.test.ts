// Every account's registry over one journal: each sees only its own documents, another process
// follows them, functions from before there were accounts become the administrator's, and an
// account id a caller makes up creates nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryCodeStore } from '../codestore/index.js';
import { MemoryJournal } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
import { makeZip } from '../../test/helpers/zip.js';
import { policyAllows, policyKey } from './policies.js';
import { FunctionRegistries } from './registries.js';
import type { FunctionSettings } from './settings.js';

const A = '111111111111';
const B = '222222222222';
const SETTINGS: FunctionSettings = {
  runtime: 'nodejs20.x', role: 'arn:aws:iam::000000000000:role/r', handler: 'index.handler', description: 'd',
  timeoutSec: 3, memoryMb: 128, ephemeralStorageMb: 512, environment: {},
};

function registries(journal: MemoryJournal, code = new MemoryCodeStore()) {
  return new FunctionRegistries({
    journal, code, clock: new ManualClock(), zipLimits: { maxUnzippedBytes: 1 << 20 }, region: 'us-east-1', reservedEnvKeys: [],
    quotaOf: (accountId) => ({ maxFunctions: accountId === B ? 1 : 10, totalCodeBytes: 1e9 }),
  });
}

describe('FunctionRegistries', () => {
  it('keeps each account\'s functions apart: same names, own ARNs, own lists, own quotas', async () => {
    const journal = new MemoryJournal();
    const all = registries(journal);
    const zip = await makeZip({ 'index.js': 'exports.handler = 1;' });
    const a = await all.for(A).create('f', SETTINGS, zip);
    await all.for(A).create('g', SETTINGS, zip);
    const b = await all.for(B).create('f', SETTINGS, zip);
    assert.deepEqual([a.accountId, b.accountId], [A, B]);
    assert.equal(all.for(B).resolve('f', undefined).functionArn, `arn:aws:lambda:us-east-1:${B}:function:f`);
    assert.deepEqual(all.for(A).list().map((f) => f.name), ['f', 'g']);
    assert.deepEqual(all.for(B).list().map((f) => f.name), ['f']);
    assert.throws(() => all.for(B).get('g'), { code: 'ResourceNotFound', message: `Function not found: arn:aws:lambda:us-east-1:${B}:function:g` });
    await assert.rejects(all.for(B).create('h', SETTINGS, zip), { code: 'QuotaExceeded' });
    await all.for(B).delete('f');
    assert.equal(all.for(A).has('f'), true, 'deleting B\'s f leaves A\'s');
    assert.deepEqual((await journal.functions.list()).map((d) => d.key), [`${A}/f`, `${A}/g`]);
  });

  it('loads every account from the journal and follows another process\'s changes', async () => {
    const journal = new MemoryJournal();
    const code = new MemoryCodeStore();
    const writer = registries(journal, code);
    const zip = await makeZip({ 'index.js': 'exports.handler = 1;' });
    await writer.for(A).create('early', SETTINGS, zip);
    const reader = registries(journal, code);
    const stop = await reader.follow();
    await reader.load();
    assert.deepEqual(reader.all().map((r) => r.accountId), [A]);
    const seen: string[] = [];
    reader.onRegistry((r) => r.onChange((name, version) => seen.push(`${r.accountId}/${name}:${version ?? '*'}`)));
    await writer.for(B).create('late', SETTINGS, zip);
    await writer.for(A).updateSettings('early', { description: 'changed' });
    assert.equal(reader.for(B).get('late').accountId, B);
    assert.equal(reader.for(A).get('early').description, 'changed');
    assert.deepEqual(seen, [`${B}/late:$LATEST`, `${A}/early:$LATEST`]);
    stop();
  });

  it('gives functions journaled before there were accounts to the administrator, once', async () => {
    const journal = new MemoryJournal();
    await journal.functions.create('old', { name: 'old', ...SETTINGS, code: { sha256: 'a'.repeat(64), size: 1 }, lastModifiedMs: 0, revisionId: 'r' }, 'rev');
    await journal.versions.create('old:1', { name: 'old', version: '1', ...SETTINGS, code: { sha256: 'a'.repeat(64), size: 1 }, lastModifiedMs: 0, revisionId: 'r', sourceRevisionId: 'r' }, 'rev');
    const url = { functionName: 'old', authType: 'NONE', invokeMode: 'BUFFERED', creationTimeMs: 0, lastModifiedMs: 0 };
    await journal.functionUrls.create('old', url, 'rev');
    const all = registries(journal);
    await all.adoptUnowned(A);
    await all.adoptUnowned(A);
    await all.load();
    assert.equal(all.for(A).get('old').accountId, A);
    assert.equal(all.for(A).versions.get('old', '1')?.accountId, A);
    assert.deepEqual((await journal.functions.list()).map((d) => d.key), [`${A}/old`]);
    assert.equal(all.for(A).urls.get('old', undefined)?.authType, 'NONE');
    const statements = all.for(A).get('old').policies?.[policyKey(undefined)]?.statements ?? [];
    assert.deepEqual(statements.map((st) => st.Sid), ['FunctionURLAllowPublicAccess'], 'its NONE URL keeps answering anyone, now by a policy statement');
    assert.ok(policyAllows(statements, {
      action: 'lambda:InvokeFunctionUrl', resourceArn: `arn:aws:lambda:us-east-1:${A}:function:old`, functionUrlAuthType: 'NONE',
    }));
  });

  it('an account id that comes from a caller finds nothing and creates nothing', () => {
    const all = registries(new MemoryJournal());
    assert.equal(all.existing('999999999999'), undefined);
    assert.deepEqual(all.all(), []);
  });
});
