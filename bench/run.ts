/**
 * `npm run bench`: runs every scenario on this machine, starting what each needs itself, and
 * writes bench/results/<date>.md and .json (and the latest-results block of bench/README.md).
 * Exits non-zero only when a scenario fails to run, never because a number is slow.
 *
 *   node dist/bench/run.js [--quick] [--rounds N] [--only id,id] [--out DIR]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanupAll, cleanupMark, log, tempDir } from './harness.js';
import { loadGenerator } from './load.js';
import { ensurePeer } from './peer.js';
import { updateReadme, writeReport, type Report, type ScenarioResult } from './report.js';
import type { BenchContext, Scenario } from './scenario.js';
import { asyncInvoke } from './scenarios/async.js';
import { burst } from './scenarios/burst.js';
import { coldStart } from './scenarios/cold-start.js';
import { failover } from './scenarios/failover.js';
import { faultInjection } from './scenarios/fault-injection.js';
import { footprint } from './scenarios/footprint.js';
import { images } from './scenarios/images.js';
import { peerChunks } from './scenarios/peer-chunks.js';
import { isolation } from './scenarios/isolation.js';
import { logStore } from './scenarios/log-store.js';
import { warmConcurrent } from './scenarios/warm-concurrent.js';
import { warmSequential } from './scenarios/warm-sequential.js';
import { snapStart } from './scenarios/snapstart.js';
import { snapStartCluster } from './scenarios/snapstart-cluster.js';
import { gvisorCost } from './scenarios/gvisor.js';
import { logging } from './scenarios/logging.js';
import { keepAlive } from './scenarios/keep-alive.js';
import { scale } from './scenarios/scale.js';
import { fleetScaleOut } from './scenarios/fleet-scale-out.js';
import { zoneLoss } from './scenarios/zone-loss.js';
import { STRATUS_ARGS, STRATUS_KEEP_ALIVE_MS } from './targets.js';

const SCENARIOS: Scenario[] = [warmSequential, warmConcurrent, coldStart, burst, footprint, failover, asyncInvoke, images, peerChunks, snapStart, snapStartCluster, gvisorCost, isolation, logStore, logging, keepAlive, scale, fleetScaleOut, zoneLoss, faultInjection];
const BENCH_DIR = fileURLToPath(new URL('../../bench/', import.meta.url));

/** wrk is a Debian package; install it once if missing (the Node load generator is the fallback). */
function ensureWrk(): string {
  if (existsSync('/usr/bin/wrk')) return 'wrk (Debian package, 1 thread)';
  log('installing wrk with apt-get (once)');
  const asRoot = process.getuid?.() === 0;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const aptGet = (...args: string[]) =>
    spawnSync(asRoot ? 'apt-get' : 'sudo', asRoot ? args : ['-n', 'apt-get', ...args], { stdio: ['ignore', 'ignore', 'inherit'], env, timeout: 300_000 });
  aptGet('update', '-q');
  aptGet('install', '-y', '-q', '--no-install-recommends', 'wrk');
  return existsSync('/usr/bin/wrk') ? 'wrk (Debian package, 1 thread)' : 'Node.js load generator in its own process (wrk could not be installed)';
}

async function runScenario(s: Scenario, ctx: BenchContext): Promise<ScenarioResult> {
  log(`scenario ${s.id}: start`);
  const t0 = Date.now();
  const loadAvgAtStart = loadavg()[0];
  const mark = cleanupMark();
  try {
    const body = await s.run(ctx);
    log(`scenario ${s.id}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return { id: s.id, title: s.title, ok: true, durationS: (Date.now() - t0) / 1000, loadAvgAtStart, ...body };
  } catch (err) {
    const error = err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err);
    log(`scenario ${s.id}: FAILED: ${error}`);
    const durationS = (Date.now() - t0) / 1000;
    return { id: s.id, title: s.title, ok: false, error: error.split('\n')[0], durationS, loadAvgAtStart, method: [], tables: [], checks: [], notes: [error.slice(0, 3000)] };
  } finally {
    // Whatever the scenario left running (after a failure) must not disturb the next one.
    await cleanupAll(mark);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, rounds: { type: 'string' }, only: { type: 'string' }, out: { type: 'string' } },
  });
  const quick = values.quick ?? false;
  const only = values.only?.split(',').map((s) => s.trim());
  const chosen = SCENARIOS.filter((s) => !only || only.includes(s.id));
  if (chosen.length === 0) throw new Error(`no scenario matches --only ${values.only}; ids: ${SCENARIOS.map((s) => s.id).join(', ')}`);
  const startedAt = new Date();
  const loadAvgAtStart = loadavg();
  const standalone = chosen.every((s) => s.standalone);
  const loadGen = standalone ? 'none (not needed)' : ensureWrk();
  // Only the warm-concurrent scenario compares against the peer: install it only when it runs.
  const peer = chosen.some((s) => s.id === 'warm-concurrent') ? await ensurePeer() : { ok: false, error: 'not needed by the chosen scenarios' };
  if (!peer.ok) log(`peer not available: ${peer.error}`);
  const ctx: BenchContext = {
    rounds: values.rounds ? Math.max(1, Number(values.rounds)) : quick ? 2 : 5,
    quick,
    scratch: await tempDir('scratch'),
    peer,
    cores: cpus().length,
  };
  const results: ScenarioResult[] = [];
  for (const s of chosen) {
    if (exiting) return 130;
    results.push(await runScenario(s, ctx));
  }
  if (exiting) return 130; // interrupted: no report from a partial run
  const finishedAt = new Date();
  const report: Report = {
    run: {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationS: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
        memGb: Math.round(totalmem() / 2 ** 30),
        kernel: release(),
        node: process.version,
        loadAvgAtStart,
        loadAvgAtEnd: loadavg(),
      },
      loadGenerator: loadGenerator() === 'wrk' ? loadGen : 'Node.js load generator in its own process',
      stratusOptions: [...STRATUS_ARGS, '--keep-alive-ms', String(STRATUS_KEEP_ALIVE_MS), '--log-level', 'warn'],
      rounds: ctx.rounds,
      quick,
      peer: { ok: peer.ok, versions: peer.versions ? { ...peer.versions } : undefined, error: peer.error },
    },
    scenarios: results,
  };
  const outDir = values.out ?? `${BENCH_DIR}results`;
  const base = await writeReport(outDir, report);
  log(`report: ${outDir}/${base}.md and .json`);
  if (!values.out && !only) {
    for (const [readme, link] of [[`${BENCH_DIR}README.md`, 'results/'], [`${BENCH_DIR}../README.md`, 'bench/results/']] as const) {
      if (await updateReadme(readme, link, base, report)) log(`${readme}: latest results updated`);
    }
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length) log(`failed to run: ${failed.map((r) => r.id).join(', ')}`);
  return failed.length ? 1 : 0;
}

// The AWS SDK warns once that its future versions need Node.js 22: not news for a bench report.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (!`${w.name} ${w.message}`.includes('NodeVersionSupportWarning')) process.stderr.write(`${w.name}: ${w.message}\n`);
});

let exiting = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    if (exiting) return;
    exiting = true;
    log(`${sig}: cleaning up`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

main().then(
  async (code) => {
    if (exiting) return; // the signal handler cleans up and exits
    await cleanupAll();
    process.exit(code);
  },
  async (err: unknown) => {
    if (exiting) return;
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await cleanupAll();
    process.exit(1);
  },
);
