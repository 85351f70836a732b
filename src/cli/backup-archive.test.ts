import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isMemberName, parseManifest, referencedMembers } from './backup-archive.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
const D = 'd'.repeat(64);

test('only names of a data directory\'s state are members: never a path outside it', () => {
  for (const ok of ['journal.db', 'journal-logs.db', 'credentials.json', `code/sha256/${A}`, `code/chunks/aa/${A}`, `code/images/${A}.json`]) {
    assert.ok(isMemberName(ok), ok);
  }
  for (const bad of ['../journal.db', '/journal.db', `/code/sha256/${A}`, `code/sha256/../../${A}`, `code/chunks/ab/${A}`, `code/sha256/${A}/x`,
    `code/sha256/${A.toUpperCase()}`, 'code\\sha256\\x', 'journal.db/', 'worker/code/x', 'gc-hold/1.json', '', '.', 'journal.db-wal', `./code/sha256/${A}`]) {
    assert.ok(!isMemberName(bad), bad);
  }
});

test('a manifest is refused unless it lists state names once, each with a size and sha256, and a journal', () => {
  const good = { format: 'stratus-backup', formatVersion: 1, stratusVersion: '0.1.0', createdAt: '2026-12-07T00:00:00.000Z', members: [{ name: 'journal.db', size: 1, sha256: A }] };
  assert.equal(parseManifest(Buffer.from(JSON.stringify(good))).members.length, 1);
  const refused = (m: unknown, message: RegExp) => assert.throws(() => parseManifest(Buffer.from(JSON.stringify(m))), message);
  refused({ ...good, formatVersion: 2 }, /backup format 2 is not the one this Stratus reads/);
  refused({ ...good, format: 'zip' }, /not a Stratus backup/);
  refused({ ...good, members: [...good.members, { name: '../x', size: 1, sha256: A }] }, /names "..\/x", which is no part of a data directory/);
  refused({ ...good, members: [...good.members, ...good.members] }, /lists journal.db twice/);
  refused({ ...good, members: [{ name: 'journal.db', size: -1, sha256: A }] }, /no valid size and sha256/);
  refused({ ...good, members: [{ name: 'credentials.json', size: 1, sha256: A }] }, /holds no journal.db/);
  assert.throws(() => parseManifest(Buffer.from('{')), /manifest is not JSON/);
});

test('the members a journal references: code references, and each image with its manifest and chunks (not a zip named by its digest)', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'stratus-backup-refs-'));
  try {
    await mkdir(join(dataDir, 'code', 'images'), { recursive: true });
    await writeFile(join(dataDir, 'code', 'images', `${C}.json`), JSON.stringify({ digest: `sha256:${C}`, chunks: [D, A] }));
    const doc = (key: string, value: unknown) => ({ key, value, revision: '1' });
    const documents = new Map([
      ['functions', [
        doc('1/zip', { name: 'zip', code: { sha256: A, size: 10 }, layers: [{ arn: 'x', code: { sha256: B, size: 3 }, unzippedBytes: 9 }] }),
        doc('1/image', { name: 'image', code: { sha256: C, size: 100 }, image: { uri: 'r/i:1', resolvedUri: `r/i@sha256:${C}`, digest: `sha256:${C}` } }),
      ]],
      ['versions', [doc('1/zip/1', { name: 'zip', version: '1', code: { sha256: A, size: 10 }, snapshot: { status: 'ready', image: { sha256: D, size: 5 } } })]],
      ['workerCredentials', [doc('w', { secretHash: B.slice(0, 60), note: 'no reference' })]],
    ]);
    const wanted = await referencedMembers(documents, dataDir);
    assert.deepEqual([...wanted].sort(), [
      `code/chunks/aa/${A}`, `code/chunks/dd/${D}`, `code/images/${C}.json`, `code/sha256/${A}`, `code/sha256/${B}`, `code/sha256/${D}`,
    ]);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
