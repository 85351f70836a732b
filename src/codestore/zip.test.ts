import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeZip, renameEntry } from '../../test/helpers/zip.js';
import { extractZip, inspectZip } from './zip.js';

const limits = { maxUnzippedBytes: 1024 * 1024 };

describe('function packages (zip)', () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stratus-zip-'));
    dirs.push(dir);
    return dir;
  };
  after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('extracts files and directories, keeping the executable bit', async () => {
    const zip = await makeZip({ 'index.js': 'x', 'lib/a.js': 'a', bootstrap: '#!/bin/sh' }, { bootstrap: 0o100755 });
    assert.deepEqual(await inspectZip(zip, limits), { files: 3, unzippedBytes: 11 });
    const dir = await tempDir();
    await extractZip(zip, dir, limits);
    assert.equal(await readFile(join(dir, 'lib/a.js'), 'utf8'), 'a');
    assert.equal((await stat(join(dir, 'bootstrap'))).mode & 0o777, 0o755);
    assert.equal((await stat(join(dir, 'index.js'))).mode & 0o777, 0o644);
  });

  const escapes: [string, string][] = [['a parent-directory escape', '../evil.js'], ['a nested escape', 'a/../../evil.js'], ['an absolute path', '/etc/evil']];
  for (const [name, path] of escapes) {
    it(`rejects ${name} and writes nothing`, async () => {
      const placeholder = 'x'.repeat(path.length);
      const zip = renameEntry(await makeZip({ 'ok.js': 'ok', [placeholder]: 'evil' }), placeholder, path);
      await assert.rejects(inspectZip(zip, limits), { code: 'InvalidZipFile', message: /points outside the package/ });
      const dir = await tempDir();
      const target = join(dir, 'task');
      await import('node:fs/promises').then((fs) => fs.mkdir(target));
      await assert.rejects(extractZip(zip, target, limits), { code: 'InvalidZipFile' });
      assert.deepEqual((await readdir(dir)).sort(), ['task']);
    });
  }

  it('rejects a symbolic link entry', async () => {
    const zip = await makeZip({ link: '/etc/passwd' }, { link: 0o120777 });
    await assert.rejects(inspectZip(zip, limits), { code: 'InvalidZipFile', message: /symbolic link/ });
  });

  it('rejects bytes that are not a zip, and a package over the unzipped limit', async () => {
    await assert.rejects(inspectZip(Buffer.from('not a zip at all'), limits), { code: 'InvalidZipFile' });
    const big = await makeZip({ 'big.bin': Buffer.alloc(limits.maxUnzippedBytes + 1) });
    await assert.rejects(inspectZip(big, limits), { code: 'InvalidParameterValue', message: /Unzipped size must be smaller than/ });
  });
});
