import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { randomUUID as importedRandomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { reseedRandomness, runAfterRestore, runBeforeSnapshot, snapStartApi } from './snapstart.cjs';

describe('SnapStart in the Node.js runtime client', () => {
  it('runs before-snapshot hooks last registered first and after-restore hooks in order, awaiting each', async () => {
    const calls: string[] = [];
    snapStartApi.registerBeforeSnapshot(async () => { await new Promise((r) => setTimeout(r, 5)); calls.push('before 1'); });
    snapStartApi.registerBeforeSnapshot(() => calls.push('before 2'));
    snapStartApi.registerAfterRestore(() => calls.push('after 1'));
    snapStartApi.registerAfterRestore(async () => { calls.push('after 2'); });
    await runBeforeSnapshot();
    await runAfterRestore();
    assert.deepEqual(calls, ['before 2', 'before 1', 'after 1', 'after 2']);
    assert.throws(() => snapStartApi.registerAfterRestore('nope' as unknown as () => void), TypeError);
  });

  it('after reseeding, every random source draws from the kernel and keeps its contract', async () => {
    const originals = { random: Math.random, uuid: crypto.randomUUID, bytes: crypto.randomBytes };
    reseedRandomness();
    assert.notEqual(Math.random, originals.random);
    assert.notEqual(crypto.randomUUID, originals.uuid, 'the namespace import sees the new function');
    assert.notEqual(crypto.randomBytes, originals.bytes);
    const uuids = new Set(Array.from({ length: 1000 }, () => crypto.randomUUID()));
    assert.equal(uuids.size, 1000);
    for (const id of uuids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(importedRandomUUID(), /^[0-9a-f-]{36}$/);
    const values = Array.from({ length: 1000 }, () => Math.random());
    assert.ok(values.every((v) => v >= 0 && v < 1));
    assert.ok(new Set(values).size > 990);
    assert.equal(crypto.randomBytes(37).length, 37);
    const filled = crypto.randomFillSync(Buffer.alloc(8), 2, 4);
    assert.deepEqual([...filled.subarray(0, 2), ...filled.subarray(6)], [0, 0, 0, 0]);
    for (let i = 0; i < 200; i++) {
      const n = crypto.randomInt(3, 9);
      assert.ok(n >= 3 && n < 9 && Number.isInteger(n));
    }
    const viaCallback = await new Promise<Buffer>((resolve, reject) => crypto.randomBytes(5, (err, buf) => (err ? reject(err) : resolve(buf))));
    assert.equal(viaCallback.length, 5);
    const array = globalThis.crypto.getRandomValues(new Uint32Array(4));
    assert.ok(array.some((v) => v !== 0));
    assert.equal(crypto.getRandomValues(new Uint8Array(3)).length, 3);
  });
});
