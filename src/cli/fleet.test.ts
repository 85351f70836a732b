import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryJournal, type EtcdJournal } from '../journal/index.js';
import { FLEET_WORKER_SIZE_KEY, PlacementService, WorkerDirectory, type ClusterSecrets } from '../placement/index.js';
import { ManualClock } from '../shared/clock.js';
import { resolveConfig } from '../shared/config.js';
import { silentLogger } from '../shared/log.js';
import { Metrics } from '../shared/metrics.js';
import { FakeWorker } from '../../test/helpers/fake-worker.js';
import { fleetMember, openPlacementFleet } from './fleet.js';

describe('fleetMember', () => {
  it('does not count warm-pool stems as environments, so a drained worker with only a warm pool counts as empty', () => {
    const m = fleetMember('w1', { id: 'w1', memoryMb: 1000, memoryReservedMb: 256, environments: 2, stems: 2, busy: 0, cachedCode: [] });
    assert.equal(m.environments, 0);
    assert.equal(fleetMember('w2', { id: 'w2', memoryMb: 1000, memoryReservedMb: 384, environments: 3, stems: 2, cachedCode: [] }).environments, 1);
    assert.equal(fleetMember('w3', { id: 'w3', memoryMb: 1000, memoryReservedMb: 0, environments: 1, cachedCode: [] }).environments, 1, 'no stems reported');
  });

  it('does not count what warm-pool stems and SnapStart clones hold in reserved memory: caches the worker drops for room are not load', () => {
    // 256 MB of environments, 512 MB of stems and clones: 768 of 1000 reserved, 256 of it load.
    const m = fleetMember('w1', { id: 'w1', memoryMb: 1000, memoryReservedMb: 768, memoryCachesMb: 512, environments: 4, stems: 2, cachedCode: [] });
    assert.equal(m.reservedMb, 256);
    assert.equal(fleetMember('w2', { id: 'w2', memoryMb: 1000, memoryReservedMb: 300, cachedCode: [], environments: 1 }).reservedMb, 300, 'not reported: all counted');
  });
});

describe('openPlacementFleet with the static provider', () => {
  it('a cluster restarted with --fleet-provider static clears the drain marks recorded before (no scaler can finish them); heartbeats carry none', async () => {
    const journal = new MemoryJournal();
    const fleetDemand = new MemoryJournal().functions; // etcd's own store; any document store does here
    const etcd = { workers: journal.workers, workerCredentials: journal.workerCredentials, fleetDemand } as unknown as EtcdJournal;
    const directory = new WorkerDirectory(journal.workers, silentLogger());
    const entry = { id: 'x', url: 'https://127.0.0.1:1', status: { id: 'x', memoryMb: 1024, memoryReservedMb: 0, environments: 0, cachedCode: [] } };
    directory.publish({ ...entry, draining: true }); // a local-hosts leader's drain, before the restart
    await directory.idle();
    const fleet = await openPlacementFleet(resolveConfig({}), etcd, {} as ClusterSecrets, silentLogger(), new ManualClock(), () => true);
    const placement = new PlacementService();
    placement.register(new FakeWorker('x', 1024)); // adopted with a fresh lease, as every recorded worker is
    fleet.start('https://127.0.0.1:1', placement, directory, new Metrics());
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    await directory.idle();
    assert.equal((await directory.recorded()).find((w) => w.id === 'x')?.draining, false, 'the mark is cleared: the worker gets environments again');
    assert.equal(fleet.annotate(entry).draining, false, 'a heartbeat re-asserts it');
    assert.deepEqual((await fleetDemand.get(FLEET_WORKER_SIZE_KEY))?.value, { memoryMb: 0 }, 'a provider that starts no worker: no cold start is demand');
    await fleet.stop();
  });
});
