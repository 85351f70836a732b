// Fault injection on a cluster (issue 20): the harness of fault-injection.test.ts against a real
// cluster (3-member etcd, placement, assignment, two workers, a frontend), with one etcd member,
// one worker or the frontend SIGKILLed at a seeded random moment of the operation mix and started again; then
// the API's view must equal etcd's documents, no acknowledged write may be lost, every
// acknowledged event must be delivered, and a killed worker leaves no process or cgroup behind.
// Replay: STRATUS_FAULT_SEED=<seed> node scripts/run-tests.js fault-injection-cluster
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runClusterFaultInjection } from '../helpers/fault/cluster-trials.js';
import { faultSeed } from '../helpers/fault/prng.js';

const TRIALS = 4;

describe('fault injection on a cluster: SIGKILL of an etcd member, a worker or the frontend', () => {
  test(`${TRIALS} kills keep every invariant`, async (t) => {
    const seed = faultSeed();
    const report = await runClusterFaultInjection({ seed, trials: TRIALS, log: (line) => t.diagnostic(line) });
    t.diagnostic(`seed ${seed}: ${report.acked} writes acknowledged, ${report.rejected} refused (${JSON.stringify(report.refusals)}), ${report.eventsAcked} events acknowledged`);
    assert.equal(report.trials.length, TRIALS);
    assert.ok(report.acked > TRIALS, `the mix did work before the kills (${report.acked} acknowledged writes)`);
    assert.deepEqual(report.violations, [], `replay with STRATUS_FAULT_SEED=${seed}`);
  });
});
