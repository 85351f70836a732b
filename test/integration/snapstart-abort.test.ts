// A worker's SnapStart snapshot stops when the control plane gives up on it (the worker API passes
// the request's close through as an abort signal): the boot in progress is abandoned and nothing
// of it is left, no sandbox process, no cgroup, no control directory.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { BubblewrapSandboxDriver, CriuSnapshots, detectCgroups, loadSeccompFilter } from '../../src/sandbox/index.js';
import { systemClock } from '../../src/shared/clock.js';
import { resolveConfig } from '../../src/shared/config.js';
import { StratusError } from '../../src/shared/errors.js';
import { silentLogger } from '../../src/shared/log.js';
import { CacheLeases, openRunRoot, SnapshotCache, type RunRoot } from '../../src/worker/index.js';
import { fakeSpec } from '../helpers/fake-worker.js';
import { startLocalWorker, type LocalWorker } from '../helpers/local-worker.js';

const MARKER = `stratus-snap-abort-${randomUUID()}`;
/** Its initialization starts a process that names the marker, then never ends. */
const HANDLER = `
import cp from 'node:child_process';
cp.spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '${MARKER}'], { stdio: 'ignore' });
await new Promise(() => setInterval(() => {}, 1000));
export const handler = async () => 'never';
`;

const instance = `stratus-snap-abort-${process.pid}`;
const cgroups = detectCgroups(instance);
let worker: LocalWorker;
let dir = '';
let driver: BubblewrapSandboxDriver;
let runRoot: RunRoot;

/** Processes (host pids) whose command line names the marker. */
function marked(): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(MARKER);
    } catch {
      return false;
    }
  }).map(Number);
}

/** Sandbox cgroups left in this test's subtree (cgroup v1 controllers or v2). */
function sandboxCgroups(): string[] {
  return ['memory', 'pids', 'cpu', 'freezer', ''].map((c) => join('/sys/fs/cgroup', c, instance)).filter((d) => existsSync(d))
    .flatMap((d) => readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(d, e.name)));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stratus-snap-abort-'));
  const config = resolveConfig({}).sandbox;
  driver = new BubblewrapSandboxDriver({ ...config, cgroups, seccomp: await loadSeccompFilter() });
  driver.snapshots = new CriuSnapshots({ criuPath: config.criuPath, sandbox: { ...config, cgroups }, stateDir: join(dir, 'criu') });
  const caches = new CacheLeases(systemClock, { idleMs: 60_000, maxBytes: 1 << 30 });
  const code = { get: () => Promise.reject(new Error('no code store here')) } as unknown as ConstructorParameters<typeof SnapshotCache>[1];
  runRoot = await openRunRoot(silentLogger());
  worker = await startLocalWorker('snapabort', { 'index.mjs': HANDLER }, { driver, runRoot, snapshotCache: new SnapshotCache(join(dir, 'snapshots'), code, caches) });
});
after(async () => {
  for (const pid of marked()) process.kill(pid, 'SIGKILL');
  await worker?.stop();
  await cgroups.cleanup();
  await runRoot?.close().catch(() => {});
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('an aborted createSnapshot stops the boot and leaves no sandbox process, cgroup or control directory behind', { timeout: 120_000 }, async (t) => {
  const unavailable = await driver.snapshots?.unavailableReason();
  if (unavailable) return t.skip(unavailable);
  const runDirsBefore = new Set(readdirSync(runRoot.path));
  const controller = new AbortController();
  const making = worker.agent.createSnapshot(fakeSpec('hangs'), { signal: controller.signal });
  making.catch(() => {});
  // Its initialization is under way: the process it started is running in the sandbox.
  while (marked().length === 0) await new Promise((r) => setTimeout(r, 20));
  assert.ok(sandboxCgroups().length >= 1, 'the sandbox has its cgroup');
  controller.abort(new StratusError('SnapshotFailed', 'The control plane gave up on the snapshot'));
  await assert.rejects(making, { code: 'SnapshotFailed', message: /abandoned: .*gave up on the snapshot/ });
  assert.deepEqual(marked(), [], 'no process of the sandbox is left');
  assert.deepEqual(sandboxCgroups(), [], 'no cgroup of the sandbox is left');
  const left = readdirSync(runRoot.path).filter((name) => !runDirsBefore.has(name));
  assert.deepEqual(left, [], 'no control directory is left');
});
