/**
 * Scenario 13 — fault injection (issue 20): the harness of test/integration/fault-injection.test.ts
 * run for many trials. Each trial drives a seeded random mix of management writes and Event
 * invokes into a real `stratus up`, SIGKILLs it after a seeded random delay, restarts it on the
 * same data directory and checks every invariant (test/helpers/fault/trials.ts). Reported: trials
 * run, operations, kill points, invariants held, the seed to replay (STRATUS_FAULT_SEED), and
 * the code blobs no document refers to (the code garbage collector's business, reported only).
 */
import { runClusterFaultInjection } from '../../test/helpers/fault/cluster-trials.js';
import { faultSeed } from '../../test/helpers/fault/prng.js';
import { runFaultInjection } from '../../test/helpers/fault/trials.js';
import { log } from '../harness.js';
import { check, type Scenario } from '../scenario.js';

export const faultInjection: Scenario = {
  id: 'fault-injection',
  title: '13. Fault injection: SIGKILL of stratus up during writes and deliveries',
  standalone: true,
  async run(ctx) {
    const trials = ctx.quick ? 10 : 100;
    const clusterTrials = ctx.quick ? 3 : 20;
    const seed = faultSeed();
    const report = await runFaultInjection({ seed, trials, log });
    const cluster = await runClusterFaultInjection({ seed, trials: clusterTrials, log });
    const fullDiskTrials = process.getuid?.() === 0 ? (ctx.quick ? 3 : 20) : 0;
    const fullDisk = fullDiskTrials > 0 ? await runFaultInjection({ seed, trials: fullDiskTrials, fullDiskMb: 96, log }) : undefined;
    const fullDiskHeld = fullDisk?.trials.filter((t) => t.violations.length === 0).length ?? 0;
    const clusterHeld = cluster.trials.filter((t) => t.violations.length === 0).length;
    const held = report.trials.filter((t) => t.violations.length === 0).length;
    const kinds = new Map<string, number>();
    for (const t of report.trials) for (const k of t.inFlight) kinds.set(k, (kinds.get(k) ?? 0) + 1);
    const last = report.trials.at(-1);
    return {
      method: [
        `${trials} trials on one data directory, seed ${seed} (replay: STRATUS_FAULT_SEED=${seed} node dist/bench/run.js --only fault-injection).`,
        'Each trial: two streams of random writes (create, update code and configuration, publish, delete function and version, aliases, layer versions), invokes and Event invokes through the AWS SDK; SIGKILL 0–25 ms after the issue of one of the first 400 requests (3 s at the latest); restart (a third of the time killed too, during its start); every invariant checked.',
        `Then ${clusterTrials} trials on a cluster (3-member etcd, placement, one assignment replica, two workers, a frontend), each SIGKILLing one etcd member, one worker or the frontend and starting it again, same seed.`,
      ],
      tables: [{
        title: 'Trials', rows: [], plain: {
          header: ['trials', 'trials with every invariant held', 'invariant checks', 'operations issued', 'writes acknowledged', 'events acknowledged', 'kills with an operation in flight', 'orphan code blobs at the end'],
          cells: [[String(report.trials.length), String(held), String(report.checks), String(report.trials.reduce((a, t) => a + t.issued, 0)),
            String(report.acked), String(report.eventsAcked), String(report.trials.filter((t) => t.inFlight.length > 0).length), String(last?.orphanBlobs ?? 0)]],
        },
      }, {
        title: 'Cluster trials', rows: [], plain: {
          header: ['trials', 'trials with every invariant held', 'etcd members killed', 'workers killed', 'frontends killed', 'writes acknowledged', 'events acknowledged'],
          cells: [[String(cluster.trials.length), String(clusterHeld), String(cluster.trials.filter((t) => t.notes[0]?.startsWith('killed etcd')).length),
            String(cluster.trials.filter((t) => t.notes[0]?.startsWith('killed worker')).length),
            String(cluster.trials.filter((t) => t.notes[0]?.startsWith('killed frontend')).length), String(cluster.acked), String(cluster.eventsAcked)]],
        },
      }, {
        title: 'Full-disk trials (the data directory a 96 MiB tmpfs, filled before about half the trials)', rows: [], plain: {
          header: ['trials', 'trials with every invariant held', 'trials killed and restarted on a full disk', 'writes acknowledged', 'writes refused as DiskFull'],
          cells: [[String(fullDisk?.trials.length ?? 0), String(fullDiskHeld),
            String(fullDisk?.trials.filter((t) => t.notes.includes('killed and restarted on a full disk')).length ?? 0), String(fullDisk?.acked ?? 0),
            String(Object.entries(fullDisk?.refusals ?? {}).filter(([k]) => k.endsWith(': DiskFull')).reduce((n, [, c]) => n + c, 0))]],
        },
      }, {
        title: 'Operations in flight at the kills', rows: [], plain: { header: ['operation', 'kills'], cells: [...kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => [k, String(n)]) },
      }],
      checks: [
        check('fault-injection', 'every invariant holds after every kill of stratus up', `${held} of ${report.trials.length} trials`, held === report.trials.length),
        check('fault-injection', 'every invariant holds after every kill of an etcd member, a worker or the frontend', `${clusterHeld} of ${cluster.trials.length} trials`, clusterHeld === cluster.trials.length),
        check('fault-injection', 'every invariant holds after every kill on a (filled) full disk', `${fullDiskHeld} of ${fullDisk?.trials.length ?? 0} trials`, fullDiskHeld === (fullDisk?.trials.length ?? 0)),
      ],
      notes: [...report.violations, ...cluster.violations, ...(fullDisk?.violations ?? [])].slice(0, 50),
    };
  },
};
