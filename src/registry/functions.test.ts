// The registry on the in-memory journal: versions, aliases (weighted routing with an injected
// random source), cascading deletes, tags and the change events that retire environments.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryCodeStore } from '../codestore/index.js';
import { MemoryJournal } from '../journal/index.js';
import { ManualClock } from '../shared/clock.js';
import { makeZip } from '../../test/helpers/zip.js';
import { FunctionRegistry } from './functions.js';
import type { FunctionSettings } from './settings.js';
import { environmentKey } from './model.js';

const SETTINGS: FunctionSettings = {
  runtime: 'nodejs20.x', role: 'arn:aws:iam::000000000000:role/r', handler: 'index.handler', description: 'd',
  timeoutSec: 3, memoryMb: 128, ephemeralStorageMb: 512, environment: {},
};

async function setup(randoms: number[] = []) {
  const journal = new MemoryJournal();
  const deps = {
    journal, code: new MemoryCodeStore(), clock: new ManualClock(), zipLimits: { maxUnzippedBytes: 1 << 20 },
    accountId: '000000000000', region: 'us-east-1', reservedEnvKeys: [], quota: () => ({ maxFunctions: 100, totalCodeBytes: 1e9 }),
    random: () => randoms.shift() ?? 0.5,
  };
  const registry = new FunctionRegistry(deps);
  const changes: string[] = [];
  registry.onChange((name, version) => changes.push(`${name}:${version ?? '*'}`));
  const zip = (tag: string) => makeZip({ 'index.js': `exports.tag = ${JSON.stringify(tag)};` });
  await registry.create('f', SETTINGS, await zip('one'));
  return { registry, journal, changes, zip, reload: async () => { const again = new FunctionRegistry(deps); await again.load(); return again; } };
}

describe('FunctionRegistry: versions', () => {
  it('publishes numbered snapshots; $LATEST stays mutable and the versions do not change with it', async () => {
    const { registry, zip } = await setup();
    const v1 = await registry.publish('f', { description: 'first' });
    await registry.updateSettings('f', { memoryMb: 256 });
    await registry.updateCode('f', await zip('two'));
    const v2 = await registry.publish('f');
    assert.deepEqual([v1.version, v1.description, v1.memoryMb], ['1', 'first', 128]);
    assert.deepEqual([v2.version, v2.description, v2.memoryMb], ['2', 'd', 256]);
    assert.notEqual(v1.code.sha256, v2.code.sha256);
    assert.equal(registry.resolve('f', '1').memoryMb, 128);
    assert.equal(registry.resolve('f', '1').version, '1');
    assert.equal(registry.resolve('f', undefined).memoryMb, 256);
  });

  it('returns the last version again when nothing changed, and never reuses a deleted number', async () => {
    const { registry } = await setup();
    const v1 = await registry.publish('f');
    assert.deepEqual(await registry.publish('f'), v1);
    await registry.updateSettings('f', { timeoutSec: 9 });
    await registry.publish('f');
    await registry.delete('f', '2');
    await registry.updateSettings('f', { timeoutSec: 10 });
    assert.equal((await registry.publish('f')).version, '3');
  });

  it('checks CodeSha256 and RevisionId like Lambda', async () => {
    const { registry } = await setup();
    const fn = registry.get('f');
    await assert.rejects(registry.publish('f', { revisionId: 'stale' }), { code: 'PreconditionFailed' });
    await assert.rejects(registry.publish('f', { codeSha256: 'bogus' }), {
      code: 'InvalidParameterValue',
      message: `CodeSHA256 (bogus) is different from current CodeSHA256 in $LATEST (${Buffer.from(fn.code.sha256, 'hex').toString('base64')}). Please try again with the CodeSHA256 in $LATEST.`,
    });
    const v1 = await registry.publish('f', { revisionId: fn.revisionId, codeSha256: Buffer.from(fn.code.sha256, 'hex').toString('base64') });
    assert.equal(v1.version, '1');
    assert.notEqual(registry.get('f').revisionId, fn.revisionId, 'publishing gives $LATEST a new RevisionId');
  });

  it('survives a reload from the journal, versions, aliases and URLs included', async () => {
    const { registry, reload } = await setup();
    await registry.publish('f');
    await registry.aliases.create('f', 'live', { functionVersion: '1' });
    await registry.urls.create({ functionName: 'f', qualifier: 'live', authType: 'NONE', invokeMode: 'BUFFERED', creationTimeMs: 1, lastModifiedMs: 1 });
    const again = await reload();
    assert.equal(again.resolve('f', 'live').version, '1');
    assert.equal(again.urls.get('f', 'live')?.authType, 'NONE');
    assert.equal((await again.publish('f')).version, '1', 'nothing changed since version 1');
  });
});

describe('FunctionRegistry: aliases', () => {
  it('routes by weight with the injected random source', async () => {
    const { registry } = await setup([0.05, 0.5, 0.15, 0.25]);
    await registry.publish('f');
    await registry.updateSettings('f', { memoryMb: 256 });
    await registry.publish('f');
    await registry.aliases.create('f', 'live', { functionVersion: '1', additionalVersionWeights: { 2: 0.2 } });
    assert.deepEqual([1, 2, 3, 4].map(() => registry.resolve('f', 'live').version), ['2', '1', '2', '1']);
  });

  it('refuses invalid routing and references, with Lambda\'s messages', async () => {
    const { registry } = await setup();
    await registry.publish('f');
    const create = (input: Parameters<typeof registry.aliases.create>[2]) => registry.aliases.create('f', 'a', input);
    await assert.rejects(create({ functionVersion: '1', additionalVersionWeights: { 2: 0.1, 3: 0.1 } }), { message: 'Number of items in AdditionalVersionWeights cannot be greater than 1' });
    await assert.rejects(create({ functionVersion: '$LATEST', additionalVersionWeights: { 1: 0.1 } }), { message: '$LATEST is not supported for an alias pointing to more than 1 version' });
    await assert.rejects(create({ functionVersion: '1', additionalVersionWeights: { 1: 0.1 } }), { message: 'Invalid function version 1. Function version 1 is already included in routing configuration.' });
    await assert.rejects(create({ functionVersion: '7' }), { code: 'ResourceNotFound', message: 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:f:7' });
    await create({ functionVersion: '1' });
    await assert.rejects(create({ functionVersion: '1' }), { code: 'ResourceConflict', message: 'Alias already exists: arn:aws:lambda:us-east-1:000000000000:function:f:a' });
    await assert.rejects(registry.delete('f', '1'), { code: 'ResourceConflict', message: 'Unable to delete version because the following aliases reference it: [a]' });
    await assert.rejects(registry.aliases.update('f', 'a', { description: 'x' }, 'stale'), { code: 'PreconditionFailed' });
  });
});

describe('FunctionRegistry: deletes, tags and change events', () => {
  it('deleting the function removes its versions, aliases and URLs from the journal', async () => {
    const { registry, journal } = await setup();
    await registry.publish('f');
    await registry.aliases.create('f', 'live', { functionVersion: '1' });
    await registry.urls.create({ functionName: 'f', authType: 'NONE', invokeMode: 'BUFFERED', creationTimeMs: 1, lastModifiedMs: 1 });
    await registry.delete('f');
    for (const store of [journal.functions, journal.versions, journal.aliases, journal.functionUrls]) assert.deepEqual(await store.list(), []);
    assert.throws(() => registry.resolve('f', 'live'), { code: 'ResourceNotFound' });
  });

  it('tells listeners which environments went stale: $LATEST, one version, or all of them', async () => {
    const { registry, changes } = await setup();
    await registry.updateSettings('f', { timeoutSec: 5 });
    await registry.publish('f');
    await registry.tag('f', { 'stratus:network': 'outbound' });
    await registry.tag('f', { 'stratus:network': 'outbound' });
    await registry.untag('f', ['nope']);
    await registry.delete('f', '1');
    await registry.delete('f');
    assert.deepEqual(changes, ['f:$LATEST', 'f:$LATEST', 'f:*', 'f:1', 'f:*']);
  });

  it('hands workers the current tags with every version, and tags keep environments apart', async () => {
    const { registry } = await setup();
    await registry.publish('f');
    const before = registry.resolve('f', '1');
    await registry.tag('f', { 'stratus:network': 'outbound' });
    const after = registry.resolve('f', '1');
    assert.deepEqual(after.tags, { 'stratus:network': 'outbound' });
    assert.notEqual(environmentKey(before), environmentKey(after));
    assert.equal(registry.get('f').revisionId, registry.resolve('f', undefined).revisionId, 'tags leave RevisionId alone');
    await assert.rejects(registry.tag('f', Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v']))), { message: 'Number of tags exceeds resource tag limit.' });
  });
});

describe('FunctionRegistry: SnapStart state of versions', () => {
  it('a version published with ApplyOn PublishedVersions is pending and announced; its state is recorded durably', async () => {
    const { registry, reload } = await setup();
    const pending: string[] = [];
    registry.onSnapshotPending((v) => pending.push(`${v.name}:${v.version}`));
    await registry.publish('f');
    assert.equal(registry.resolve('f', '1').snapshot, undefined, 'no SnapStart: no snapshot state');
    await registry.updateSettings('f', { snapStart: 'PublishedVersions' });
    const v2 = await registry.publish('f');
    assert.deepEqual(v2.snapshot, { status: 'pending' });
    assert.deepEqual(pending, ['f:2']);
    const image = { sha256: 'ab'.repeat(32), size: 10 };
    assert.equal(await registry.setSnapshot('f', '2', { status: 'ready', image }), true);
    assert.deepEqual(registry.resolve('f', '2').snapshot, { status: 'ready', image });
    // Recorded once: a second outcome (another frontend's, made meanwhile) is not written.
    assert.equal(await registry.setSnapshot('f', '2', { status: 'off', reason: 'late' }), false);
    assert.deepEqual(registry.resolve('f', '2').snapshot, { status: 'ready', image });
    assert.equal(registry.resolve('f', '2').snapStart, 'PublishedVersions');
    const again = await reload();
    assert.deepEqual(again.resolve('f', '2').snapshot, { status: 'ready', image });
    assert.equal(await registry.setSnapshot('f', '9', { status: 'off' }), false);
    assert.equal(registry.versions.get('f', '9'), undefined, 'a version that is gone is left alone');
  });
});

describe('FunctionRegistry: what is kept as functions come and go (no scan of every function)', () => {
  /** What codeUsage and reservedConcurrencyTotal summed over every function before they were kept. */
  function summed(registry: FunctionRegistry) {
    let code = 0;
    let reserved = 0;
    for (const fn of registry.list()) {
      code += fn.code.size + registry.versions.list(fn.name).reduce((sum, v) => sum + v.code.size, 0);
      reserved += fn.reservedConcurrency ?? 0;
    }
    return { code, reserved };
  }

  it('pages functions in name order after a marker, as they are created, deleted or changed by another process', async () => {
    const { registry, journal, reload } = await setup();
    for (const name of ['c', 'A', 'b', 'a']) await registry.create(name, SETTINGS, await makeZip({ 'index.js': `// ${name}` }));
    assert.deepEqual(registry.page(undefined, 3).functions.map((f) => f.name), ['A', 'a', 'b']);
    assert.equal(registry.page(undefined, 3).more, true);
    assert.deepEqual(registry.page('b', 10), { functions: [registry.get('c'), registry.get('f')], more: false });
    assert.deepEqual(registry.page('bb', 1).functions.map((f) => f.name), ['c']);
    await registry.delete('b');
    assert.deepEqual(registry.page('a', 2).functions.map((f) => f.name), ['c', 'f']);
    // Another process creates one and deletes one; this registry follows the journal.
    const other = await reload();
    await other.create('ab', SETTINGS, await makeZip({ 'index.js': '// ab' }));
    await other.delete('c');
    registry.mirror('functions', 'ab', await journal.functions.get('ab'));
    registry.mirror('functions', 'c', undefined);
    assert.deepEqual(registry.page('A', 10).functions.map((f) => f.name), ['a', 'ab', 'f']);
    assert.equal(registry.count, 4);
    assert.deepEqual((await reload()).page(undefined, 10).functions.map((f) => f.name), ['A', 'a', 'ab', 'f']);
  });

  it('code usage counts $LATEST and every version through updates, publishes and deletes', async () => {
    const { registry, zip, reload } = await setup();
    await registry.publish('f');
    await registry.updateCode('f', await zip('a longer body than the first one'));
    await registry.publish('f');
    await registry.create('g', SETTINGS, await zip('g'));
    await registry.publish('g');
    assert.equal(registry.codeUsage(), summed(registry).code);
    const withG = registry.codeUsage();
    await registry.delete('f', '1');
    assert.ok(registry.codeUsage() < withG);
    assert.equal(registry.codeUsage(), summed(registry).code);
    await registry.delete('g');
    assert.equal(registry.codeUsage(), summed(registry).code);
    registry.mirror('versions', 'f:2', undefined);
    assert.equal(registry.codeUsage(), registry.get('f').code.size);
    assert.equal((await reload()).codeUsage(), summed(await reload()).code);
  });

  it('reserved concurrency is summed as it is set, changed, removed and as functions go', async () => {
    const { registry, zip, journal, reload } = await setup();
    await registry.create('g', SETTINGS, await zip('g'));
    await registry.create('h', SETTINGS, await zip('h'));
    await registry.setReservedConcurrency('f', 5);
    await registry.setReservedConcurrency('g', 7);
    await registry.setReservedConcurrency('g', 3);
    assert.deepEqual([registry.reservedConcurrencyTotal(), registry.reservedConcurrencyTotal('g'), registry.reservedConcurrencyTotal('h')], [8, 5, 8]);
    await registry.setReservedConcurrency('f', undefined);
    assert.equal(registry.reservedConcurrencyTotal(), 3);
    const other = await reload();
    await other.setReservedConcurrency('h', 10);
    registry.mirror('functions', 'h', await journal.functions.get('h'));
    assert.equal(registry.reservedConcurrencyTotal(), 13);
    await registry.delete('g');
    assert.equal(registry.reservedConcurrencyTotal(), summed(registry).reserved);
    assert.equal(registry.reservedConcurrencyTotal(), 10);
  });
});
