// SnapStart's control plane over one journal shared by two "frontends": a version Pending with
// no live owner (its frontend stopped) is made by the other once it has been Pending long enough;
// a live owner is left alone; two makers record the outcome exactly once; on one machine a
// version Pending at start is made at once. A worker that never answers is given up at the
// deadline or on stop; an outcome that cannot be recorded is retried with backoff; an owner
// whose copy of the registry lags reads the journal before making it again.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { chunkedBlobDigest, MemoryChunkStore, MemoryCodeStore } from '../codestore/index.js';
import { MemoryJournal } from '../journal/index.js';
import { FunctionRegistries, type FunctionSettings } from '../registry/index.js';
import { ManualClock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { createLogger } from '../shared/log.js';
import { INIT_TIMEOUT_MS, type WorkerAgent } from '../worker/index.js';
import { makeZip } from '../../test/helpers/zip.js';
import { SnapStartService, snapshotOwner } from './snapstart.js';

const ACCOUNT = '111111111111';
const SETTINGS: FunctionSettings = {
  runtime: 'nodejs20.x', role: 'arn:aws:iam::000000000000:role/r', handler: 'index.handler', description: 'd',
  timeoutSec: 3, memoryMb: 128, ephemeralStorageMb: 512, environment: {}, snapStart: 'PublishedVersions',
};
const ORPHAN_MS = 15_000;
const DUMP_BUDGET_MS = 60_000;

/** A worker whose snapshots finish when the test says so; each call's tar names the worker. */
function worker(name: string) {
  const calls: ((tar?: Buffer) => void)[] = [];
  const signals: (AbortSignal | undefined)[] = [];
  const agent = {
    id: name,
    status: () => ({ id: name, memoryMb: 1024, memoryReservedMb: 0, environments: 0, cachedCode: [] }),
    // Never ends by itself (as a worker whose host vanished): only `finish` answers.
    createSnapshot: (_spec: unknown, opts?: { signal?: AbortSignal }) => new Promise<{ tar: Buffer; sha256: string }>((resolve) => {
      signals.push(opts?.signal);
      calls.push((tar = Buffer.from(`snapshot by ${name} #${calls.length}`)) => resolve({ tar, sha256: createHash('sha256').update(tar).digest('hex') }));
    }),
  } as unknown as WorkerAgent;
  return { agent, calls, signals, finish: (i = calls.length - 1, tar?: Buffer) => calls[i]?.(tar) };
}

async function frontend(journal: MemoryJournal, clock: ManualClock, id: string, opts: { owners?: boolean; service?: boolean; worker?: WorkerAgent; follow?: boolean } = {}) {
  const code = new MemoryCodeStore();
  const registries = new FunctionRegistries({
    journal, code, clock, zipLimits: { maxUnzippedBytes: 1 << 20 }, region: 'us-east-1', reservedEnvKeys: [],
    quotaOf: () => ({ maxFunctions: 10, totalCodeBytes: 1e9 }),
  });
  // Not following: its copy of the journal stays as loaded (a copy that lags, at its extreme).
  if (opts.follow !== false) await registries.follow();
  await registries.load();
  const chunks = new MemoryChunkStore();
  const snapStart = opts.service === false ? undefined : new SnapStartService({
    registries, chunks, clock, log: createLogger('silent'), workers: () => (opts.worker ? [opts.worker] : []),
    orphanAfterMs: ORPHAN_MS, sweepIntervalMs: 5_000, dumpBudgetMs: DUMP_BUDGET_MS, retryAfterMs: 30_000, maxRetryAfterMs: 60_000,
    ...(opts.owners === false ? {} : { owners: { election: (v) => journal.election(snapshotOwner(v), 2000), candidate: { id, address: id } } }),
  });
  return { registries, chunks, snapStart, registry: registries.for(ACCOUNT) };
}

const flush = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

async function publishPending(registries: FunctionRegistries) {
  await registries.for(ACCOUNT).create('f', SETTINGS, await makeZip({ 'index.js': 'exports.handler = async () => 1;' }));
  const v = await registries.for(ACCOUNT).publish('f');
  assert.deepEqual(v.snapshot, { status: 'pending' });
  return v;
}

describe('SnapStartService: Pending versions', () => {
  it('a version whose frontend stopped is made by another once Pending longer than the bound, and recorded once', async () => {
    const journal = new MemoryJournal();
    const clock = new ManualClock();
    const gone = await frontend(journal, clock, 'frontend-a', { service: false }); // published, then stopped before making it
    const b = worker('worker-b');
    const survivor = await frontend(journal, clock, 'frontend-b', { worker: b.agent });
    survivor.snapStart?.start();
    await publishPending(gone.registries);
    await flush();
    clock.advance(ORPHAN_MS - 5_000);
    await flush();
    assert.equal(b.calls.length, 0, 'not yet: its owner may still be about to start');
    clock.advance(5_000);
    await flush();
    assert.equal(b.calls.length, 1, 'Pending past the bound with no owner: made here');
    assert.ok(await journal.election(snapshotOwner({ accountId: ACCOUNT, name: 'f', version: '1' })).leader(), 'the survivor owns it while it works');
    clock.advance(10_000);
    await flush();
    assert.equal(b.calls.length, 1, 'not made twice while under way');
    b.finish();
    await survivor.snapStart?.settled();
    const state = survivor.registry.versions.get('f', '1')?.snapshot;
    assert.equal(state?.status, 'ready');
    assert.ok(state?.image && (await survivor.chunks.getImage(chunkedBlobDigest(state.image.sha256))), 'stored chunked');
    assert.equal(await journal.election(snapshotOwner({ accountId: ACCOUNT, name: 'f', version: '1' })).leader(), undefined, 'the owner resigned');
    await survivor.snapStart?.stop();
  });

  it('a live owner is left alone, however long it takes; a frontend waiting for it does not make it again', async () => {
    const journal = new MemoryJournal();
    const clock = new ManualClock();
    const a = worker('worker-a');
    const b = worker('worker-b');
    const owner = await frontend(journal, clock, 'frontend-a', { worker: a.agent });
    const other = await frontend(journal, clock, 'frontend-b', { worker: b.agent });
    other.snapStart?.start();
    const v = await publishPending(owner.registries);
    await flush();
    assert.equal(a.calls.length, 1, 'the publishing frontend makes it');
    clock.advance(ORPHAN_MS * 4);
    await flush();
    assert.equal(b.calls.length, 0, 'its owner is alive: the sweep leaves it');
    other.snapStart?.prepare(v); // as if it had judged the version orphaned a moment before the owner took it
    await flush();
    a.finish();
    await owner.snapStart?.settled();
    await other.snapStart?.settled();
    assert.equal(b.calls.length, 0, 'once it owned the version, it was no longer Pending');
    assert.equal(other.registry.versions.get('f', '1')?.snapshot?.status, 'ready');
    await owner.snapStart?.stop();
    await other.snapStart?.stop();
  });

  it('of two makers (a paused owner and its successor), the first outcome is recorded and the other dropped', async () => {
    const journal = new MemoryJournal();
    const clock = new ManualClock();
    const a = worker('worker-a');
    const b = worker('worker-b');
    // No elections: both believe they own it, as a paused owner and its successor may.
    const first = await frontend(journal, clock, 'frontend-a', { worker: a.agent, owners: false });
    const second = await frontend(journal, clock, 'frontend-b', { worker: b.agent, owners: false });
    const v = await publishPending(first.registries);
    await flush();
    second.snapStart?.prepare(v);
    await flush();
    assert.deepEqual([a.calls.length, b.calls.length], [1, 1]);
    b.finish();
    await second.snapStart?.settled();
    const recorded = second.registry.versions.get('f', '1')?.snapshot;
    assert.equal(recorded?.status, 'ready');
    a.finish();
    await first.snapStart?.settled();
    const doc = await journal.versions.get(`${ACCOUNT}/f:1`);
    assert.deepEqual((doc?.value as { snapshot: unknown }).snapshot, recorded, 'the later outcome did not overwrite the first');
    assert.deepEqual(first.registry.versions.get('f', '1')?.snapshot, recorded);
  });

  it('on one machine, a version Pending at start (a snapshot cut short) is made at once', async () => {
    const journal = new MemoryJournal();
    const clock = new ManualClock();
    const before = await frontend(journal, clock, 'up', { service: false });
    await publishPending(before.registries);
    const w = worker('worker-1');
    const restarted = await frontend(journal, clock, 'up', { worker: w.agent, owners: false });
    restarted.snapStart?.start();
    await flush();
    assert.equal(w.calls.length, 1, 'no waiting for the bound: nobody else can be making it');
    w.finish();
    await restarted.snapStart?.settled();
    assert.equal(restarted.registry.versions.get('f', '1')?.snapshot?.status, 'ready');
    await restarted.snapStart?.stop();
  });

  it('a worker that never answers is given up at the deadline: the version is Active with OptimizationStatus Off and why', async () => {
    const journal = new MemoryJournal();
    const clock = new ManualClock();
    const hung = worker('worker-hung');
    const owner = await frontend(journal, clock, 'frontend-a', { worker: hung.agent });
    owner.snapStart?.start();
    await publishPending(owner.registries);
    await flush();
    assert.equal(hung.calls.length, 1);
    clock.advance(INIT_TIMEOUT_MS + DUMP_BUDGET_MS - 1);
    await flush();
    assert.equal(owner.registry.versions.get('f', '1')?.snapshot?.status, 'pending', 'within its deadline');
    clock.advance(1);
    await flush();
    const state = owner.registry.versions.get('f', '1')?.snapshot;
    assert.equal(state?.status, 'off');
    assert.match(state?.reason ?? '', /not made within 70 s/);
    assert.equal(hung.signals[0]?.aborted, true, 'its request was ended');
    assert.equal(await journal.election(snapshotOwner({ accountId: ACCOUNT, name: 'f', version: '1' })).leader(), undefined, 'the owner resigned');
    clock.advance(ORPHAN_MS * 2);
    await flush();
    assert.equal(hung.calls.length, 1, 'not Pending any more: not made again');
    await owner.snapStart?.stop();
  });

  it('a stop ends a snapshot whose worker never answers: the version stays Pending for another frontend', async () => {
    const journal = new MemoryJournal();
    const clock = new ManualClock();
    const hung = worker('worker-hung');
    const owner = await frontend(journal, clock, 'frontend-a', { worker: hung.agent });
    await publishPending(owner.registries);
    await flush();
    assert.equal(hung.calls.length, 1);
    let stopped = false;
    void owner.snapStart?.stop().then(() => (stopped = true));
    await flush();
    assert.ok(stopped, 'the stop did not wait for the worker');
    assert.equal(hung.signals[0]?.aborted, true, 'its request was ended');
    assert.equal(owner.registry.versions.get('f', '1')?.snapshot?.status, 'pending');
    assert.equal(await journal.election(snapshotOwner({ accountId: ACCOUNT, name: 'f', version: '1' })).leader(), undefined, 'the owner resigned');
  });

  it('an outcome that cannot be recorded is tried again after 30 s, then 60 s (capped), not at every sweep', async () => {
    const journal = new MemoryJournal();
    const clock = new ManualClock();
    const gone = await frontend(journal, clock, 'frontend-a', { service: false });
    const w = worker('worker-b');
    const survivor = await frontend(journal, clock, 'frontend-b', { worker: w.agent });
    const registry = survivor.registry;
    const record = registry.setSnapshot.bind(registry);
    registry.setSnapshot = () => Promise.reject(new StratusError('JournalUnavailable', 'etcdserver: mvcc: database space exceeded'));
    survivor.snapStart?.start();
    await publishPending(gone.registries);
    const start = clock.now();
    const at = async (ms: number) => {
      while (clock.now() - start < ms) {
        clock.advance(5_000);
        await flush();
      }
    };
    await at(ORPHAN_MS);
    assert.equal(w.calls.length, 1, 'orphaned: made here');
    w.finish(); // not recorded: retried 30 s later
    await flush();
    await at(ORPHAN_MS + 25_000);
    assert.equal(w.calls.length, 1, 'a failed version is not made again at each sweep');
    await at(ORPHAN_MS + 30_000);
    assert.equal(w.calls.length, 2, 'tried again after 30 s');
    w.finish(); // again not recorded: 60 s
    await flush();
    await at(ORPHAN_MS + 30_000 + 55_000);
    assert.equal(w.calls.length, 2);
    await at(ORPHAN_MS + 30_000 + 60_000);
    assert.equal(w.calls.length, 3, 'tried again after 60 s');
    w.finish(); // a third time: 120 s, capped at 60 s
    await flush();
    await at(ORPHAN_MS + 30_000 + 60_000 + 55_000);
    assert.equal(w.calls.length, 3);
    await at(ORPHAN_MS + 30_000 + 60_000 + 60_000);
    assert.equal(w.calls.length, 4, 'the wait is capped');
    registry.setSnapshot = record; // the journal has room again
    w.finish();
    await survivor.snapStart?.settled();
    assert.equal(registry.versions.get('f', '1')?.snapshot?.status, 'ready');
    await survivor.snapStart?.stop();
  });

  it('an owner whose copy of the registry lags reads the journal once elected: a version its predecessor recorded is not made again', async () => {
    const journal = new MemoryJournal();
    const clock = new ManualClock();
    const gone = await frontend(journal, clock, 'frontend-a', { service: false });
    const b = worker('worker-b');
    const c = worker('worker-c');
    const first = await frontend(journal, clock, 'frontend-b', { worker: b.agent });
    first.snapStart?.start();
    const v = await publishPending(gone.registries);
    const lagging = await frontend(journal, clock, 'frontend-c', { worker: c.agent, follow: false });
    for (let t = 0; t < ORPHAN_MS; t += 5_000) {
      clock.advance(5_000);
      await flush();
    }
    assert.equal(b.calls.length, 1, 'the first survivor makes it');
    lagging.snapStart?.prepare(v); // it too found the version orphaned, a moment before the first survivor took it
    await flush();
    b.finish();
    await first.snapStart?.settled();
    await flush();
    assert.equal(lagging.registry.versions.get('f', '1')?.snapshot?.status, 'pending', 'its copy still says Pending');
    assert.equal(c.calls.length, 0, 'the journal said it was recorded: not made again');
    await lagging.snapStart?.settled();
    assert.equal((await journal.versions.get(`${ACCOUNT}/f:1`))?.value && first.registry.versions.get('f', '1')?.snapshot?.status, 'ready');
    await first.snapStart?.stop();
    await lagging.snapStart?.stop();
  });
});
