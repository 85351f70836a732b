// Fault injection on a full disk (issue 20): the harness of fault-injection.test.ts with the data
// directory on a small tmpfs of its own, filled to the last few hundred KB before about half the
// trials, so that writes are refused as DiskFull (refusals, not violations: nothing of them may
// be stored), kills land while the disk is full and restarts start on it. The disk is emptied
// before each check. Needs root (the mount). Replay: STRATUS_FAULT_SEED=<seed> node
// scripts/run-tests.js fault-injection-full-disk
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { faultSeed } from '../helpers/fault/prng.js';
import { runFaultInjection } from '../helpers/fault/trials.js';

const TRIALS = 4;

describe('fault injection on a full disk: SIGKILL of stratus up while writes are refused', { skip: process.getuid?.() !== 0 && 'needs root to mount' }, () => {
  test(`${TRIALS} kill/restart cycles, about half of them on a full disk, keep every invariant`, async (t) => {
    const seed = faultSeed();
    const report = await runFaultInjection({ seed, trials: TRIALS, fullDiskMb: 96, log: (line) => t.diagnostic(line) });
    const onFullDisk = report.trials.filter((r) => r.notes.includes('killed and restarted on a full disk')).length;
    t.diagnostic(`seed ${seed}: ${report.acked} writes acknowledged, ${report.rejected} refused (${JSON.stringify(report.refusals)}), ${onFullDisk} trials on a full disk`);
    assert.equal(report.trials.length, TRIALS);
    assert.deepEqual(report.violations, [], `replay with STRATUS_FAULT_SEED=${seed}`);
    const refusedFull = Object.entries(report.refusals).filter(([k]) => k.endsWith(': DiskFull')).reduce((n, [, count]) => n + count, 0);
    if (onFullDisk > 0) assert.ok(refusedFull > 0, 'writes were refused as DiskFull while the disk was full');
  });
});
