import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../shared/clock.js';
import { gcHeld, holdGc } from './gc-hold.js';

test('a hold binds the collector until it is released or expires, and renewing moves the expiry', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'stratus-gc-hold-'));
  try {
    const clock = new ManualClock();
    assert.equal(await gcHeld(dataDir, clock), false, 'no hold: collect');
    const hold = await holdGc(dataDir, clock, 60_000);
    assert.equal(await gcHeld(dataDir, clock), true);
    clock.advance(50_000);
    await hold.renew();
    clock.advance(50_000);
    assert.equal(await gcHeld(dataDir, clock), true, 'renewed 50 s ago for 60 s');
    clock.advance(20_000);
    assert.equal(await gcHeld(dataDir, clock), false, 'expired');
    await hold.renew();
    await hold.release();
    assert.equal(await gcHeld(dataDir, clock), false, 'released');
    assert.deepEqual(await readdir(join(dataDir, 'gc-hold')), []);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('the hold of a process that is gone does not bind, nor does a file that is no hold', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'stratus-gc-hold-'));
  try {
    const clock = new ManualClock();
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    const live = await holdGc(dataDir, clock, 60_000);
    await live.release();
    await writeFile(join(dataDir, 'gc-hold', `${gone}-x.json`), JSON.stringify({ pid: gone, expiresAtMs: clock.now() + 60_000 }));
    await writeFile(join(dataDir, 'gc-hold', 'junk.json'), 'not json');
    assert.equal(await gcHeld(dataDir, clock), false);
    await writeFile(join(dataDir, 'gc-hold', `${process.pid}-y.json`), JSON.stringify({ pid: process.pid, expiresAtMs: clock.now() + 60_000 }));
    assert.equal(await gcHeld(dataDir, clock), true, 'a live process with an expiry ahead holds');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
