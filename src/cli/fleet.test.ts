import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fleetMember } from './fleet.js';

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
