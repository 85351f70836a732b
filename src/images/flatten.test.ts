import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { flattenLayers, SANDBOX_MOUNT_POINTS } from './flatten.js';

const limits = { maxUncompressedBytes: 64 * 1024 * 1024, uri: 'test/image:v1', bwrapPath: '/usr/bin/bwrap' };

describe('flattening image layers', () => {
  const dirs: string[] = [];
  after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  const temp = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stratus-flatten-'));
    dirs.push(dir);
    return dir;
  };
  /** A layer tarball of the given entries (paths relative to the layer root), in that order. */
  const layer = async (build: (root: string) => Promise<void>, entries: string[]) => {
    const root = await temp();
    await build(root);
    const tar = join(await temp(), 'layer.tar');
    execFileSync('tar', ['-cf', tar, '-C', root, '--no-recursion', ...entries]);
    return tar;
  };

  it('applies whiteouts and opaque directories to the layers below, and adds the sandbox mount points', async () => {
    const base = await layer(async (r) => {
      await mkdir(join(r, 'a'));
      await mkdir(join(r, 'c'));
      await writeFile(join(r, 'a/b'), 'b');
      await writeFile(join(r, 'a/keep'), 'k');
      await writeFile(join(r, 'c/d'), 'd');
    }, ['a', 'a/b', 'a/keep', 'c', 'c/d']);
    const top = await layer(async (r) => {
      await mkdir(join(r, 'a'));
      await mkdir(join(r, 'c'));
      await writeFile(join(r, 'a/.wh.b'), '');
      await writeFile(join(r, 'c/.wh..wh..opq'), '');
      await writeFile(join(r, 'c/e'), 'e');
    }, ['a', 'a/.wh.b', 'c', 'c/.wh..wh..opq', 'c/e']);
    const rootfs = await temp();
    await flattenLayers([base, top], rootfs, await temp(), limits);
    assert.deepEqual((await readdir(join(rootfs, 'a'))).sort(), ['keep']);
    assert.deepEqual(await readdir(join(rootfs, 'c')), ['e']);
    for (const dir of SANDBOX_MOUNT_POINTS) await readdir(join(rootfs, dir));
  });

  it('never writes outside the tree through a symlink a lower layer planted', async () => {
    const outside = await temp();
    const planted = await layer((r) => symlink(outside, join(r, 'link')), ['link']);
    const through = await layer(async (r) => {
      await mkdir(join(r, 'link'));
      await writeFile(join(r, 'link/escaped'), 'pwned');
    }, ['link/escaped']);
    await assert.rejects(flattenLayers([planted, through], await temp(), await temp(), limits), { code: 'InvalidParameterValue' });
    assert.deepEqual(await readdir(outside), []);
  });

  it('replaces a symlink or file an image has at a sandbox mount point (or on the way to one) with an empty directory', async () => {
    const outside = await temp();
    await writeFile(join(outside, 'host-file'), 'host');
    const planted = await layer(async (r) => {
      await symlink(outside, join(r, 'tmp'));
      await mkdir(join(r, 'run'));
      await symlink(outside, join(r, 'run/stratus'));
      await symlink(outside, join(r, 'var'));
      await writeFile(join(r, 'opt'), 'a file');
    }, ['tmp', 'run', 'run/stratus', 'var', 'opt']);
    const rootfs = await temp();
    await flattenLayers([planted], rootfs, await temp(), limits);
    for (const dir of ['tmp', 'run', 'run/stratus', 'var', 'var/task', 'var/rapid', 'var/runtime', 'opt']) {
      assert.ok((await lstat(join(rootfs, dir))).isDirectory(), `${dir} is a plain directory`);
    }
    assert.deepEqual(await readdir(join(rootfs, 'tmp')), []);
    assert.deepEqual(await readdir(outside), ['host-file'], 'nothing was made, or removed, where the symlinks pointed');
  });

  it('refuses layers over the uncompressed size limit', async () => {
    const big = await layer((r) => writeFile(join(r, 'big'), Buffer.alloc(2 * 1024 * 1024)), ['big']);
    await assert.rejects(flattenLayers([big], await temp(), await temp(), { ...limits, maxUncompressedBytes: 1024 * 1024 }), { message: /Image size must be smaller than 1048576 bytes/ });
  });
});
