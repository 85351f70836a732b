// SnapStart's control plane over one journal shared by two "frontends": a version Pending with
// no live owner (its frontend stopped) is made by the other once it has been Pending long enough;
// a live owner is left alone; two makers record the outcome exactly once; on one machine a
// version Pending at start is made at once.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { chunkedBlobDigest, MemoryChunkStore, MemoryCodeStore } from '../codestore/index.js';
import { MemoryJournal } from '../journal/index.js';
import { FunctionRegistries, type FunctionSettings } from '../registry/index.js';
import { ManualClock } from '../shared/clock.js';
import { createLogger } from '../shared/log.js';
import type { WorkerAgent } from '../worker/index.js';
import { makeZip } from '../../test/helpers/zip.js';
import { SnapStartService, snapshotOwner } from './snapstart.js';

const ACCOUNT = '111111111111';
const SETTINGS: FunctionSettings = {
  runtime: 'nodejs20.x', role: 'arn:aws:iam::000000000000:role/r', handler: 'index.handler', description: 'd',
  timeoutSec: 3, memoryMb: 128, ephemeralStorageMb: 512, environment: {}, snapStart: 'PublishedVersions',
};
const ORPHAN_MS = 15_000;

/** A worker whose snapshots finish when the test says so; each call's tar names the worker. */
function worker(name: string) {
  const calls: ((tar?: Buffer) => void)[] = [];
  const agent = {
    id: name,
    status: () => ({ id: name, memoryMb: 1024, memoryReservedMb: 0, environments: 0, cachedCode: [] }),
    createSnapshot: () => new Promise<{ tar: Buffer; sha256: string }>((resolve) => {
      calls.push((tar = Buffer.from(`snapshot by ${name} #${calls.length}`)) => resolve({ tar, sha256: createHash('sha256').update(tar).digest('hex') }));
    }),
  } as unknown as WorkerAgent;
  return { agent, calls, finish: (i = calls.length - 1, tar?: Buffer) => calls[i]?.(tar) };
}

async function frontend(journal: MemoryJournal, clock: ManualClock, id: string, opts: { owners?: boolean; service?: boolean; worker?: WorkerAgent } = {}) {
  const code = new MemoryCodeStore();
  const registries = new FunctionRegistries({
    journal, code, clock, zipLimits: { maxUnzippedBytes: 1 << 20 }, region: 'us-east-1', reservedEnvKeys: [],
    quotaOf: () => ({ maxFunctions: 10, totalCodeBytes: 1e9 }),
  });
  await registries.follow();
  await registries.load();
  const chunks = new MemoryChunkStore();
  const snapStart = opts.service === false ? undefined : new SnapStartService({
    registries, chunks, clock, log: createLogger('silent'), workers: () => (opts.worker ? [opts.worker] : []),
    orphanAfterMs: ORPHAN_MS, sweepIntervalMs: 5_000,
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
});
