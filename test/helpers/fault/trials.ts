/**
 * The fault-injection harness (issue 20): a real `stratus up` takes a seeded random mix of
 * management writes and Event invokes from concurrent streams, is SIGKILLed after a seeded random
 * delay, restarted on the same data directory, and checked: the API's view equals the store's,
 * no acknowledged write is lost, every acknowledged event is delivered, and the killed server
 * left no processes, cgroups, temporary files or stacked mounts. Used by
 * test/integration/fault-injection.test.ts (a few trials) and the `fault-injection` bench
 * scenario (many). Replay a run with STRATUS_FAULT_SEED=<seed>: the same operations and kill
 * delays (the interleaving with the server's own timing may still differ).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateFunctionCommand } from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../stratus.js';
import { until } from '../wait.js';
import { abortedStart } from './aborted-start.js';
import { apiMatchesStore, ledgerHolds, undelivered } from './invariants.js';
import { Ledger } from './model.js';
import { apiView, checkBlobs, sqliteRows, storeView } from './observe.js';
import { functionZip, ROLE, runStream, SINK } from './operations.js';
import { cgroupDirsOf, mountsUnder, orphanBlobs, runDirsOf, snapshotCgroups, snapshotProcesses, stackedMounts, survivors, tmpFiles } from './orphans.js';
import { killTrigger, planKill, type KillPlanOptions } from './kill-point.js';
import { Prng } from './prng.js';
import { mountSmallDisk } from './small-disk.js';

export interface FaultOptions {
  seed: number;
  trials: number;
  /** Concurrent streams of operations (default 2). */
  streams?: number;
  /** Where kills land (default: 0–25 ms after one of the first 400 requests, by 3 s at the latest). */
  kill?: KillPlanOptions;
  /** Invoke every function's $LATEST at each check (its code must be the one GetFunction names). */
  invoke?: boolean;
  log?: (line: string) => void;
  /**
   * The data directory on a file system of this many MiB of its own (a tmpfs; root only), filled
   * to the last few hundred KB before about half the trials, so that kills land while writes are
   * refused as DiskFull, and restarts start on a full disk. It is emptied before each check.
   */
  fullDiskMb?: number;
}

export interface TrialResult {
  trial: number;
  /** Where the kill landed (after which request, how long after). */
  killPoint: string;
  issued: number;
  /** Writes in flight at the kill (the kill points). */
  inFlight: string[];
  violations: string[];
  notes: string[];
  orphanBlobs: number;
  mounts: number;
  /** The killed server's processes and cgroups at the kill (what the orphan checks look for). */
  processesAtKill: number;
  cgroupsAtKill: number;
}

export interface FaultReport {
  seed: number;
  trials: TrialResult[];
  acked: number;
  rejected: number;
  /** "operation: error name" -> count. */
  refusals: Record<string, number>;
  eventsAcked: number;
  /** Invariant checks run (each trial checks every invariant once). */
  checks: number;
  violations: string[];
}

/** A short collection grace, so the orphans a kill leaves are collected within a trial's check (longer than any upload of the mix). */
const GRACE_MS = 3000;
const ARGS = ['--function-logs', 'stdout', '--event-claim-ms', '2000', '--code-gc-grace-ms', String(GRACE_MS)];
const CHECKS_PER_TRIAL = 8; // processes, cgroups, run directory, tmp files, mounts, API = store, ledger, events
/** Names of the entities the streams own (not the sink). */
export const owned = (name: string) => /^s\d+-/.test(name);

export async function runFaultInjection(opts: FaultOptions): Promise<FaultReport> {
  const log = opts.log ?? (() => {});
  const prng = new Prng(opts.seed);
  const ledger = new Ledger();
  const report: FaultReport = { seed: opts.seed, trials: [], acked: 0, rejected: 0, refusals: {}, eventsAcked: 0, checks: 0, violations: [] };
  const dataDir = await mkdtemp(join(tmpdir(), 'stratus-fault-'));
  const disk = opts.fullDiskMb === undefined ? undefined : await mountSmallDisk(dataDir, opts.fullDiskMb);
  const credentials = { accessKeyId: 'AKIASTRATUSFAULT', secretAccessKey: `fault-${opts.seed}` };
  const outputs: (() => string)[] = [];
  let server = await startStratus({ dataDir, credentials, args: ARGS });
  outputs.push(server.output);
  log(`fault-injection: seed ${opts.seed} (replay: STRATUS_FAULT_SEED=${opts.seed}), ${opts.trials} trials, data dir ${dataDir}`);
  try {
    await server.lambda.send(new CreateFunctionCommand({ FunctionName: SINK, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Code: { ZipFile: await functionZip('sink') } }));
    for (let trial = 1; trial <= opts.trials; trial++) {
      const filled = disk !== undefined && prng.next() < 0.5 && (await disk.fill());
      const trigger = killTrigger(planKill(prng, opts.kill));
      const streamPrngs = Array.from({ length: opts.streams ?? 2 }, () => prng.fork());
      let stopped = false;
      const result: TrialResult = { trial, killPoint: '', issued: 0, inFlight: [], violations: [], notes: [], orphanBlobs: 0, mounts: 0, processesAtKill: 0, cgroupsAtKill: 0 };
      const current = server;
      const streams = streamPrngs.map((p, i) => runStream({
        lambda: current.lambda, ledger, prng: p, prefix: `s${i}-`, trial, onIssue: trigger.onIssue, stopped: () => stopped, faulted: () => stopped, violation: (m) => result.violations.push(m),
      }));
      result.killPoint = await trigger.fired;
      // The operations go on while the processes are listed: the kill lands wherever they are.
      const before = await snapshotProcesses(current.pid);
      stopped = true;
      await current.kill();
      before.push(...(await snapshotCgroups(current.pid))); // sandboxes started after the listing
      result.processesAtKill = new Set(before.map((p) => p.pid)).size;
      result.cgroupsAtKill = (await cgroupDirsOf(current.pid)).length;
      result.issued = (await Promise.all(streams)).reduce((a, b) => a + b, 0);
      result.inFlight = [...ledger.pending.values()].map((w) => w.kind);
      // A third of the time the restart is killed too, at a random point of its start.
      const killedPids = [current.pid];
      if (prng.next() < 1 / 3) {
        const aborted = await abortedStart(dataDir, credentials, ARGS, prng.int(50, 4000));
        killedPids.push(aborted.pid);
        outputs.push(() => aborted.output);
        before.push(...aborted.processes);
        result.notes.push(`restart killed too (${aborted.listening ? 'listening' : 'starting'})`);
      }
      server = await startStratus({ dataDir, credentials, args: ARGS });
      outputs.push(server.output);
      if (filled) {
        result.notes.push('killed and restarted on a full disk');
        await disk?.empty();
      }
      await checkTrial(result, { ledger, server, killedPids, before, dataDir, outputs, invoke: opts.invoke ?? true });
      report.trials.push(result);
      report.checks += CHECKS_PER_TRIAL;
      report.violations.push(...result.violations.map((v) => `trial ${trial} (seed ${opts.seed}): ${v}`));
      log(`trial ${trial}: kill ${result.killPoint}, ${result.issued} operations, in flight ${result.inFlight.join(', ') || 'none'}, `
        + `${result.processesAtKill} processes and ${result.cgroupsAtKill} cgroup directories of the killed server; `
        + `${ledger.functions.size} functions (${[...ledger.functions.values()].filter((f) => f.layers.length > 0).length} with a layer), `
        + `${result.violations.length} violations, ${result.orphanBlobs} orphan blobs, ${result.mounts} mounts${result.notes.length ? `; ${result.notes.join('; ')}` : ''}`);
      for (const v of result.violations) log(`  VIOLATION ${v}`);
    }
  } finally {
    tally(report, ledger);
    await server.stop();
    await disk?.unmount();
    await rm(dataDir, { recursive: true, force: true });
  }
  return report;
}

/** The ledger's totals into the report, at the end of a run. */
export function tally(report: FaultReport, ledger: Ledger): void {
  report.acked = ledger.acked;
  report.rejected = ledger.rejected;
  report.refusals = Object.fromEntries(ledger.refusals);
  report.eventsAcked = ledger.events.size;
}

interface CheckContext {
  ledger: Ledger;
  server: StratusProcess;
  /** The servers killed since the last check. */
  killedPids: number[];
  before: Awaited<ReturnType<typeof snapshotProcesses>>;
  dataDir: string;
  outputs: (() => string)[];
  invoke: boolean;
}

/** `check`'s findings once they are none, or as they are after `timeoutMs`. */
export const settle = <T>(check: () => Promise<T[]>, timeoutMs: number): Promise<T[]> =>
  until(async () => ((await check()).length === 0 ? [] : false), 'settling', timeoutMs).catch(() => check());

/** Every invariant after one restart; violations go into `result`. */
async function checkTrial(result: TrialResult, ctx: CheckContext): Promise<void> {
  const v = result.violations;
  // The restart's start-up cleanup has run: what the killed server left must be gone (or going).
  for (const p of await settle(() => survivors(ctx.before), 15_000)) v.push(`orphan process ${p.pid} of the killed server: ${p.cmdline}`);
  for (const pid of ctx.killedPids) {
    for (const d of await settle(() => cgroupDirsOf(pid), 5_000)) v.push(`orphan cgroup of the killed server ${pid}: ${d}`);
    for (const d of await settle(() => runDirsOf(pid), 5_000)) v.push(`run directory of the killed server ${pid} left: ${d}`);
  }
  for (const f of await tmpFiles(ctx.dataDir)) v.push(`temporary file left in the code store: ${f}`);
  for (const m of await stackedMounts(ctx.dataDir)) v.push(`stacked mount under the data directory: ${m}`);
  const problems: string[] = [];
  const api = await apiView(ctx.server.lambda, owned, problems, { invoke: ctx.invoke, tagOf: (sha) => ctx.ledger.tagOfSha.get(sha), layerTextOf: (arn) => ctx.ledger.layerText.get(arn) });
  const store = storeView(sqliteRows(ctx.dataDir), owned, problems);
  await checkBlobs(ctx.dataDir, store, problems);
  v.push(...problems, ...apiMatchesStore(api, store), ...ledgerHolds(ctx.ledger, api, owned, result.notes));
  const missing = await settle(async () => undelivered(ctx.ledger, ctx.outputs.map((output) => output())), 30_000);
  for (const id of missing) v.push(`acknowledged Event invoke ${id} never delivered`);
  // The collector removes them once unused for its grace (seen from the restart's first sweep).
  const blobs = await settle(() => orphanBlobs(ctx.dataDir, store.referenced), 6 * GRACE_MS + 10_000);
  result.orphanBlobs = blobs.length;
  for (const b of blobs) v.push(`code blob ${b} referenced by no document, not collected`);
  result.mounts = await mountsUnder(ctx.dataDir);
}
