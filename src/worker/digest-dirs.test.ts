import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DigestDirs } from './code-cache.js';

const ACCOUNT = '111122223333';

test('a directory is filled only once the data disk admits the write; one already there is no write and needs no room', async () => {
  const root = await mkdtemp(join(tmpdir(), 'stratus-digest-dirs-'));
  try {
    let full = true;
    const dirs = new DigestDirs(root, async () => {
      if (full) throw new Error('data disk is full');
    });
    const fills: string[] = [];
    const fill = async (dir: string) => {
      fills.push(dir);
      await writeFile(join(dir, 'code.erofs'), 'image');
    };
    await assert.rejects(dirs.get(ACCOUNT, 'a'.repeat(64), fill), /data disk is full/);
    assert.deepEqual(fills, [], 'nothing written while full');
    assert.equal(existsSync(join(root, ACCOUNT, 'a'.repeat(64))), false);
    full = false;
    const dir = await dirs.get(ACCOUNT, 'a'.repeat(64), fill);
    assert.equal(fills.length, 1);
    full = true;
    assert.equal(await dirs.get(ACCOUNT, 'a'.repeat(64), fill), dir, 'kept from before the disk filled (a restart mounts it again)');
    assert.equal(fills.length, 1);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
