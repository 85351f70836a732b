// Fault injection (issue 20): a real `stratus up` is SIGKILLed at seeded random points of a mix
// of management writes (create, update code and configuration, publish, delete functions and
// versions, aliases, layer versions) and Event invokes, then restarted on the same data directory
// and checked (test/helpers/fault/): the API's view equals the store's, every acknowledged write
// survived, every acknowledged event is delivered, and the killed server left no processes,
// cgroups, temporary files or stacked mounts. A failure prints its seed; replay it with
// STRATUS_FAULT_SEED=<seed> node scripts/run-tests.js fault-injection
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { faultSeed } from '../helpers/fault/prng.js';
import { runFaultInjection } from '../helpers/fault/trials.js';

// A bounded slice: the benchmark's fault-injection scenario runs many more (its seeds differ per run).
const TRIALS = 6;

describe('fault injection: SIGKILL of stratus up during writes and deliveries', () => {
  test(`${TRIALS} kill/restart cycles keep every invariant`, async (t) => {
    const seed = faultSeed();
    const report = await runFaultInjection({ seed, trials: TRIALS, log: (line) => t.diagnostic(line) });
    t.diagnostic(`seed ${seed}: ${report.acked} writes acknowledged, ${report.rejected} refused (${JSON.stringify(report.refusals)}), ${report.eventsAcked} events acknowledged, `
      + `orphan blobs after the last trial: ${report.trials.at(-1)?.orphanBlobs ?? 0}`);
    assert.equal(report.trials.length, TRIALS);
    assert.ok(report.acked > TRIALS, `the mix did work before the kills (${report.acked} acknowledged writes)`);
    assert.deepEqual(report.violations, [], `replay with STRATUS_FAULT_SEED=${seed}`);
  });
});
