import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FilesystemChunkStore } from './fs-chunk-store.js';
import { FilesystemCodeStore } from './fs-code-store.js';
import { removeLeftoverWrites } from './fs-leftovers.js';

test('a start removes what interrupted writes left (old .tmp files), and keeps stored code and writes in progress', async () => {
  const root = await mkdtemp(join(tmpdir(), 'stratus-leftovers-'));
  try {
    const code = new FilesystemCodeStore(root);
    const chunks = new FilesystemChunkStore(root);
    const ref = await code.put(Buffer.from('a package'));
    const { sha256 } = await chunks.putChunk(Buffer.from('a chunk'));
    const now = Date.now();
    const old = new Date(now - 60 * 60 * 1000);
    const leftovers = [join(root, 'sha256', '.tmp-old'), join(root, 'chunks', sha256.slice(0, 2), '.tmp-old'), join(root, 'images', '.tmp-old')];
    await mkdir(join(root, 'images'), { recursive: true });
    for (const path of leftovers) {
      await writeFile(path, 'half');
      await utimes(path, old, old);
    }
    await writeFile(join(root, 'sha256', '.tmp-now'), 'being written');
    assert.equal(await removeLeftoverWrites(root, now), 3);
    assert.deepEqual((await readdir(join(root, 'sha256'))).sort(), ['.tmp-now', ref.sha256].sort());
    assert.deepEqual(await readdir(join(root, 'images')), []);
    assert.deepEqual(await readdir(join(root, 'chunks', sha256.slice(0, 2))), [sha256]);
    assert.equal((await code.get(ref)).toString(), 'a package');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a start removes at once what a killed writer left, and keeps a fresh write of a live process', async () => {
  const root = await mkdtemp(join(tmpdir(), 'stratus-leftovers-'));
  try {
    const code = new FilesystemCodeStore(root);
    await code.put(Buffer.from('a package'));
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => child.once('exit', resolve));
    const dead = join(root, 'sha256', `.tmp-${child.pid}-cut-short`);
    const live = join(root, 'sha256', `.tmp-${process.pid}-in-progress`);
    await writeFile(dead, 'half');
    await writeFile(live, 'being written');
    assert.equal(await removeLeftoverWrites(root, Date.now()), 1);
    assert.ok(!existsSync(dead), 'the temporary file of a writer that is gone is removed though fresh');
    assert.ok(existsSync(live), 'a write of a live process is left alone');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
