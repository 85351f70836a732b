// The one qualifier resolver: $LATEST, version numbers and aliases (weighted for an invoke,
// primary for GetFunction and provisioned concurrency), on catalogs over the in-memory journal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal } from '../journal/index.js';
import { AliasCatalog } from './aliases.js';
import type { FunctionRecord, PublishedVersion } from './model.js';
import { parseQualifier, QualifierResolver } from './qualifiers.js';
import { VersionCatalog } from './versions.js';

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:';

const LATEST: FunctionRecord & { lastVersion: number } = {
  accountId: '000000000000', name: 'f', runtime: 'nodejs20.x', role: 'r', handler: 'index.handler', description: '', timeoutSec: 3, memoryMb: 256,
  ephemeralStorageMb: 512, environment: {}, code: { sha256: 'aa', size: 1 }, lastModifiedMs: 2, revisionId: 'latest-rev',
  tags: { team: 'a' }, lastVersion: 2,
};

async function setup(randoms: number[] = []) {
  const journal = new MemoryJournal();
  const versions = new VersionCatalog(journal.versions);
  const qualifiedArn = (name: string, qualifier?: string) => `${ARN}${name}${qualifier === undefined ? '' : `:${qualifier}`}`;
  let resolver: QualifierResolver | undefined;
  const aliases = new AliasCatalog({ store: journal.aliases, arn: qualifiedArn, versionExists: (n, v) => resolver?.exists(n, v) ?? false });
  resolver = new QualifierResolver({
    has: (name) => name === 'f', versions, aliases, functionArn: (name) => `${ARN}${name}`, qualifiedArn,
    random: () => randoms.shift() ?? 0.5,
  });
  for (const n of [1, 2]) {
    const { tags: _t, lastVersion: _l, ...snapshot } = LATEST;
    const version: PublishedVersion = { ...snapshot, version: String(n), memoryMb: 128 * n, revisionId: `v${n}`, sourceRevisionId: `src${n}` };
    await versions.add(version);
  }
  await aliases.create('f', 'live', { functionVersion: '1', additionalVersionWeights: { 2: 0.2 } });
  await aliases.create('f', 'dev', { functionVersion: '$LATEST' });
  return { resolver };
}

describe('parseQualifier', () => {
  it('tells $LATEST, version numbers and aliases apart', () => {
    assert.deepEqual(parseQualifier(undefined), { kind: 'latest' });
    assert.deepEqual(parseQualifier('$LATEST'), { kind: 'latest' });
    assert.deepEqual(parseQualifier('12'), { kind: 'version', version: '12' });
    assert.deepEqual(parseQualifier('live'), { kind: 'alias', alias: 'live' });
    assert.deepEqual(parseQualifier('v1'), { kind: 'alias', alias: 'v1' });
  });
});

describe('QualifierResolver', () => {
  it('resolves $LATEST without its publication counter, and a version with the current tags but not its source revision', async () => {
    const { resolver } = await setup();
    const latest = resolver.resolve(LATEST, undefined, 'weighted');
    assert.equal(latest.version, '$LATEST');
    assert.equal(latest.functionArn, `${ARN}f`);
    assert.equal('lastVersion' in latest, false);
    const v2 = resolver.resolve(LATEST, '2', 'weighted');
    assert.deepEqual([v2.version, v2.memoryMb, v2.tags], ['2', 256, { team: 'a' }]);
    assert.equal('sourceRevisionId' in v2, false);
  });

  it('routes an alias by its weights for an invoke and to its primary version otherwise', async () => {
    const { resolver } = await setup([0.1, 0.9, 0.1]);
    assert.deepEqual(['weighted', 'weighted', 'primary'].map((r) => resolver.versionOf('f', 'live', r as 'weighted' | 'primary')), ['2', '1', '1']);
    assert.equal(resolver.resolve(LATEST, 'dev', 'primary').version, '$LATEST');
  });

  it('answers a missing version or alias with Lambda\'s ResourceNotFound and the qualified ARN', async () => {
    const { resolver } = await setup();
    assert.throws(() => resolver.resolve(LATEST, '9', 'primary'), { code: 'ResourceNotFound', message: `Function not found: ${ARN}f:9` });
    assert.throws(() => resolver.resolve(LATEST, 'nope', 'weighted'), { code: 'ResourceNotFound', message: `Function not found: ${ARN}f:nope` });
  });

  it('knows which versions an alias may point to', async () => {
    const { resolver } = await setup();
    assert.deepEqual([resolver.exists('f', '$LATEST'), resolver.exists('f', '1'), resolver.exists('f', '7'), resolver.exists('g', '$LATEST')], [true, true, false, false]);
  });
});
