/**
 * The fault-injection harness on a cluster (etcd journal): the same operation mix and ledger as
 * trials.ts, through a frontend, while one etcd member, one `stratus worker` or the frontend
 * (its journal writes to etcd cut short) is SIGKILLed at a seeded random moment and started again. After each, the API's view must equal what etcd
 * stores, no acknowledged write may be lost, every acknowledged event must be delivered, and a
 * killed worker must leave no process or cgroup behind once it is back.
 */
import { CreateFunctionCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { EtcdJournal } from '../../../src/journal/index.js';
import { startCluster, type Cluster } from '../cluster.js';
import { until } from '../wait.js';
import { apiMatchesStore, ledgerHolds, undelivered } from './invariants.js';
import { Ledger } from './model.js';
import { apiView, storeView, type StoredRow, type View } from './observe.js';
import { functionZip, ROLE, runStream, SINK } from './operations.js';
import { cgroupDirsOf, runDirsOf, snapshotCgroups, snapshotProcesses, stackedMounts, survivors, type ProcessSnapshot } from './orphans.js';
import { killTrigger, planKill } from './kill-point.js';
import { Prng } from './prng.js';
import { owned, settle, tally, type FaultOptions, type FaultReport, type TrialResult } from './trials.js';

const COLLECTIONS = ['functions', 'versions', 'aliases', 'layers'] as const;

async function etcdRows(cluster: Cluster): Promise<StoredRow[]> {
  const journal = new EtcdJournal({ endpoints: cluster.etcd.endpoints, prefix: cluster.prefix });
  try {
    const rows: StoredRow[] = [];
    for (const collection of COLLECTIONS) for (const doc of await journal[collection].list()) rows.push({ collection, key: doc.key, value: doc.value });
    return rows;
  } finally {
    await journal.close();
  }
}

/** The API's view, retried while the cluster settles after the fault (a retry starts its findings afresh). */
async function settledApiView(lambda: LambdaClient, ledger: Ledger, problems: string[]): Promise<View> {
  let last: unknown;
  const found: string[] = [];
  const view = await until(async () => {
    found.length = 0;
    return apiView(lambda, owned, found, { invoke: true, tagOf: (sha) => ledger.tagOfSha.get(sha), layerTextOf: (arn) => ledger.layerText.get(arn) }).catch((err: unknown) => ((last = err), false as const));
  }, 'the API to answer after the fault', 60_000).catch(() => { throw new Error(`the cluster's API did not recover: ${String(last)}`); });
  problems.push(...found);
  return view;
}

export async function runClusterFaultInjection(opts: FaultOptions): Promise<FaultReport> {
  const log = opts.log ?? (() => {});
  const prng = new Prng(opts.seed);
  const ledger = new Ledger();
  const report: FaultReport = { seed: opts.seed, trials: [], acked: 0, rejected: 0, refusals: {}, eventsAcked: 0, checks: 0, violations: [] };
  const cluster = await startCluster({ frontends: 1, replicas: 1, workers: 2, workerMemoryMb: 2048, functionLogs: 'stdout' });
  const pastOutputs: string[] = [];
  const outputs = () => [...pastOutputs, ...cluster.workers.map((w) => w.output())];
  // Made again when the frontend restarts (on another port).
  let ops = cluster.lambda(0, { maxAttempts: 1 });
  let checker = cluster.lambda(0, { maxAttempts: 3 });
  log(`fault-injection (cluster): seed ${opts.seed} (replay: STRATUS_FAULT_SEED=${opts.seed}), ${opts.trials} trials`);
  try {
    await ops.send(new CreateFunctionCommand({ FunctionName: SINK, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: await functionZip('sink') } }));
    for (let trial = 1; trial <= opts.trials; trial++) {
      const trigger = killTrigger(planKill(prng, opts.kill));
      const victim = prng.pick(['etcd', 'worker', 'frontend'] as const) ?? 'worker';
      const index = prng.int(0, victim === 'etcd' ? cluster.etcd.members.length - 1 : victim === 'worker' ? cluster.workers.length - 1 : 0);
      const streamPrngs = Array.from({ length: opts.streams ?? 2 }, () => prng.fork());
      let faulted = false;
      let stopped = false;
      const result: TrialResult = { trial, killPoint: '', issued: 0, inFlight: [], violations: [], notes: [`killed ${victim} ${index}`], orphanBlobs: 0, mounts: 0, processesAtKill: 0, cgroupsAtKill: 0 };
      const lambda = ops;
      const streams = streamPrngs.map((p, i) => runStream({
        lambda, ledger, prng: p, prefix: `s${i}-`, trial, onIssue: trigger.onIssue, stopped: () => stopped, faulted: () => faulted, violation: (m) => result.violations.push(m),
      }));
      result.killPoint = await trigger.fired;
      let before: ProcessSnapshot[] = [];
      let killedWorkerPid = 0;
      if (victim === 'etcd') {
        const member = cluster.etcd.members[index];
        faulted = true;
        await member?.stop();
        await member?.start();
      } else if (victim === 'frontend') {
        // Its writes to etcd are cut short wherever they are; Event invokes it accepted wait in etcd.
        const frontend = cluster.frontends[index];
        faulted = true;
        await frontend?.kill();
        await frontend?.respawn();
        ops.destroy();
        checker.destroy();
        ops = cluster.lambda(0, { maxAttempts: 1 });
        checker = cluster.lambda(0, { maxAttempts: 3 });
      } else {
        const worker = cluster.workers[index];
        if (!worker) throw new Error(`no worker ${index}`);
        killedWorkerPid = worker.pid;
        before = await snapshotProcesses(worker.pid);
        faulted = true;
        await worker.kill();
        before.push(...(await snapshotCgroups(killedWorkerPid)));
        result.processesAtKill = new Set(before.map((p) => p.pid)).size;
        result.cgroupsAtKill = (await cgroupDirsOf(killedWorkerPid)).length;
        pastOutputs.push(worker.output());
        await worker.respawn();
      }
      stopped = true;
      result.issued = (await Promise.all(streams)).reduce((a, b) => a + b, 0);
      result.inFlight = [...ledger.pending.values()].map((w) => w.kind);
      const v = result.violations;
      if (killedWorkerPid) {
        for (const p of await settle(() => survivors(before), 15_000)) v.push(`orphan process ${p.pid} of the killed worker: ${p.cmdline}`);
        for (const d of await settle(() => cgroupDirsOf(killedWorkerPid), 5_000)) v.push(`orphan cgroup of the killed worker: ${d}`);
        for (const d of await settle(() => runDirsOf(killedWorkerPid), 5_000)) v.push(`run directory of the killed worker left: ${d}`);
        for (const m of await stackedMounts(`${cluster.dir}/worker-${index}`)) v.push(`stacked mount under the worker's data directory: ${m}`);
      }
      const problems: string[] = [];
      const api = await settledApiView(checker, ledger, problems);
      const store = storeView(await etcdRows(cluster), owned, problems);
      v.push(...problems, ...apiMatchesStore(api, store), ...ledgerHolds(ledger, api, owned, result.notes));
      for (const id of await settle(async () => undelivered(ledger, outputs()), 60_000)) v.push(`acknowledged Event invoke ${id} never delivered`);
      report.trials.push(result);
      report.checks += killedWorkerPid ? 7 : 3;
      report.violations.push(...v.map((x) => `cluster trial ${trial} (seed ${opts.seed}): ${x}`));
      log(`trial ${trial}: ${result.notes.join('; ')} ${result.killPoint}, ${result.issued} operations, in flight ${result.inFlight.join(', ') || 'none'}, `
        + `${result.processesAtKill} processes and ${result.cgroupsAtKill} cgroup directories of the killed worker; ${v.length} violations`);
      for (const x of v) log(`  VIOLATION ${x}`);
    }
  } finally {
    tally(report, ledger);
    await cluster.stop();
  }
  return report;
}
