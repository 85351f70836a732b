import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
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

  it('keeps a symbolic link that points inside the package, as Lambda does', async () => {
    const zip = await makeZip({ 'lib/real.js': 'real', 'lib/alias.js': 'real.js', 'index.js': 'lib/real.js' }, { 'lib/alias.js': 0o120777, 'index.js': 0o120777 });
    assert.deepEqual(await inspectZip(zip, limits), { files: 3, unzippedBytes: 22 });
    const dir = await tempDir();
    await extractZip(zip, dir, limits);
    assert.equal(await readlink(join(dir, 'lib/alias.js')), 'real.js');
    assert.equal(await readFile(join(dir, 'index.js'), 'utf8'), 'real');
  });

  const badLinks: [string, Record<string, string>, string[], RegExp][] = [
    ['an absolute symbolic link', { link: '/etc/passwd' }, ['link'], /symbolic link 'link' points outside the package/],
    ['a symbolic link above the package', { 'a/link': '../../etc/passwd' }, ['a/link'], /points outside the package/],
    ['an entry under a symbolic link (written through it)', { dir: 'sub', 'dir/x.js': 'x' }, ['dir'], /under the symbolic link 'dir'/],
    ['an entry under a file', { a: 'file', 'a/b.js': 'x' }, [], /under the file 'a'/],
  ];
  for (const [name, files, links, message] of badLinks) {
    it(`rejects ${name}, and an unpack of it writes nothing outside`, async () => {
      const zip = await makeZip(files, Object.fromEntries(links.map((l) => [l, 0o120777])));
      await assert.rejects(inspectZip(zip, limits), { code: 'InvalidZipFile', message });
      const dir = await tempDir();
      await mkdir(join(dir, 'task'));
      await assert.rejects(extractZip(zip, join(dir, 'task'), limits), { code: 'InvalidZipFile' });
      assert.deepEqual(await readdir(dir), ['task']);
    });
  }

  it('rejects an entry that appears twice, and one whose header misstates its size', async () => {
    const twice = renameEntry(await makeZip({ 'a.js': '1', 'b.js': '2' }), 'b.js', 'a.js');
    await assert.rejects(inspectZip(twice, limits), { code: 'InvalidZipFile', message: /'a\.js' appears twice/ });
    const zip = await makeZip({ 'big.js': 'x'.repeat(10_000) });
    // The uncompressed size, in the local header (offset 22) and the central directory (offset 24), says 100.
    const lying = Buffer.from(zip);
    lying.writeUInt32LE(100, lying.indexOf(Buffer.from([0x50, 0x4b, 0x03, 0x04])) + 22);
    lying.writeUInt32LE(100, lying.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 24);
    await assert.rejects(inspectZip(lying, limits), { code: 'InvalidZipFile' });
  });

  it('rejects bytes that are not a zip, and a package over the unzipped limit', async () => {
    await assert.rejects(inspectZip(Buffer.from('not a zip at all'), limits), { code: 'InvalidZipFile' });
    const big = await makeZip({ 'big.bin': Buffer.alloc(limits.maxUnzippedBytes + 1) });
    await assert.rejects(inspectZip(big, limits), { code: 'InvalidParameterValue', message: /Unzipped size must be smaller than/ });
  });
});
