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
});
