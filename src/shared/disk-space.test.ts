import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, systemClock } from './clock.js';
import { DataDisk, isDiskFull, RESERVE_FILE, writeOrDiskFull, type DiskSpace } from './disk-space.js';
import { StratusError } from './errors.js';
import { silentLogger } from './log.js';

const sqliteFull = () => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });

/** A disk whose release is counted (and may give room back). */
function fakeDisk(releases: boolean): DiskSpace & { released: number } {
  return {
    full: false,
    released: 0,
    async admit() {},
    async release() {
      this.released++;
      return releases;
    },
  };
}

describe('writeOrDiskFull', () => {
  it('a write that fails for want of space releases the reserve and, asked to, is tried once more', async () => {
    const disk = fakeDisk(true);
    let calls = 0;
    const out = await writeOrDiskFull(disk, () => {
      if (calls++ === 0) throw sqliteFull();
      return 'done';
    }, { retry: true });
    assert.deepEqual([out, calls, disk.released], ['done', 2, 1]);
  });

  it('without retry, or when the retry fails too, the caller gets DiskFull', async () => {
    const disk = fakeDisk(true);
    await assert.rejects(writeOrDiskFull(disk, () => Promise.reject(Object.assign(new Error('no space'), { code: 'ENOSPC' }))),
      (err: unknown) => err instanceof StratusError && err.code === 'DiskFull' && /data disk is full/.test(err.message));
    await assert.rejects(writeOrDiskFull(disk, () => { throw sqliteFull(); }, { retry: true }), (err: unknown) => isDiskFull(err) && err instanceof StratusError);
    assert.equal(disk.released, 2);
  });

  it('other failures pass through untouched and release nothing', async () => {
    const disk = fakeDisk(true);
    await assert.rejects(writeOrDiskFull(disk, () => { throw new Error('constraint'); }, { retry: true }), /constraint/);
    assert.equal(disk.released, 0);
  });
});

describe('DataDisk', () => {
  it('keeps a reserve while there is room, gives it back when full, and makes it again once there is room', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stratus-disk-'));
    try {
      const disk = await DataDisk.open(dir, silentLogger(), systemClock, { reserveBytes: 64 * 1024, marginBytes: 0 });
      assert.equal(disk.full, false);
      assert.equal((await stat(join(dir, RESERVE_FILE))).size, 64 * 1024);
      assert.equal(await disk.release(), true);
      assert.equal(disk.full, true);
      assert.equal(existsSync(join(dir, RESERVE_FILE)), false);
      await disk.admit(10);
      assert.equal(disk.full, false);
      assert.equal((await stat(join(dir, RESERVE_FILE))).size, 64 * 1024);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('while full it looks for room by itself, so logs and invokes (which never ask) resume once space is freed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stratus-disk-'));
    const clock = new ManualClock();
    try {
      const disk = await DataDisk.open(dir, silentLogger(), clock, { reserveBytes: 64 * 1024, marginBytes: 0, recheckMs: 1000 });
      assert.equal(await disk.release(), true);
      assert.equal(disk.full, true);
      clock.advance(999);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(disk.full, true, 'not before recheckMs');
      clock.advance(1);
      for (let i = 0; i < 100 && disk.full; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(disk.full, false, 'the reserve is back without any write asking');
      assert.equal((await stat(join(dir, RESERVE_FILE))).size, 64 * 1024);
      disk.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a disk without room for its margin starts full and refuses growing writes with DiskFull', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stratus-disk-'));
    try {
      const huge = Number.MAX_SAFE_INTEGER / 4;
      const disk = await DataDisk.open(dir, silentLogger(), systemClock, { reserveBytes: 4096, marginBytes: huge });
      assert.equal(disk.full, true);
      assert.equal(existsSync(join(dir, RESERVE_FILE)), false);
      await assert.rejects(disk.admit(1), (err: unknown) => err instanceof StratusError && err.code === 'DiskFull');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
