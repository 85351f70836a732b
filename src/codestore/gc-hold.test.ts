import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../shared/clock.js';
import { gcHeld, holdGc } from './gc-hold.js';

test('a hold binds the collector until it is released, renewing itself however long its holder works; one left unrenewed expires', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'stratus-gc-hold-'));
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
  try {
    const clock = new ManualClock();
    assert.equal(await gcHeld(dataDir, clock), false, 'no hold: collect');
    const hold = await holdGc(dataDir, clock, 60_000);
    assert.equal(await gcHeld(dataDir, clock), true);
    for (let i = 0; i < 10; i++) {
      clock.advance(20_000);
      await settle();
    }
    assert.equal(await gcHeld(dataDir, clock), true, 'held 200 s on, renewed by itself (a hold of 60 s)');
    await hold.release();
    assert.equal(await gcHeld(dataDir, clock), false, 'released');
    assert.deepEqual(await readdir(join(dataDir, 'gc-hold')), []);
    clock.advance(60_000);
    await settle();
    assert.deepEqual(await readdir(join(dataDir, 'gc-hold')), [], 'no renewal after the release');
    await writeFile(join(dataDir, 'gc-hold', `${process.pid}-stuck.json`), JSON.stringify({ pid: process.pid, expiresAtMs: clock.now() - 1 }));
    assert.equal(await gcHeld(dataDir, clock), false, 'a live holder that stopped renewing binds no more');
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
