import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { CodeStore } from '../../src/codestore/index.js';
import { ManualClock } from '../../src/shared/clock.js';

/**
 * The contract every CodeStore passes: content addressing, idempotent puts, clean misses, and
 * what the code collector relies on (listing, last-put times that a repeated put refreshes,
 * deletes conditional on them). `make` builds the store on the given clock.
 */
export function runCodeStoreContract(name: string, make: (clock: ManualClock) => Promise<{ store: CodeStore; cleanup(): Promise<void> }>): void {
  describe(`CodeStore contract: ${name}`, () => {
    const withStore = (fn: (s: CodeStore, clock: ManualClock) => Promise<void>) => async () => {
      const clock = new ManualClock();
      const { store, cleanup } = await make(clock);
      try {
        await fn(store, clock);
      } finally {
        await cleanup();
      }
    };

    it('names content by its sha256 and returns the same bytes', withStore(async (s) => {
      const bytes = Buffer.from('hello code');
      const ref = await s.put(bytes);
      assert.deepEqual(ref, { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
      assert.deepEqual(await s.get(ref), bytes);
      assert.equal(await s.has(ref), true);
    }));

    it('stores identical content once', withStore(async (s) => {
      const a = await s.put(Buffer.from('same'));
      const b = await s.put(Buffer.from('same'));
      assert.deepEqual(a, b);
      assert.equal((await s.list()).length, 1);
    }));

    it('lists what it stores with size and last-put time, and a repeated put refreshes that time', withStore(async (s, clock) => {
      const first = clock.now();
      const a = await s.put(Buffer.from('package a'));
      clock.advance(5000);
      const b = await s.put(Buffer.from('package bb'));
      const byDigest = <T extends { sha256: string }>(list: T[]) => [...list].sort((x, y) => (x.sha256 < y.sha256 ? -1 : 1));
      assert.deepEqual(byDigest(await s.list()), byDigest([{ ...a, lastPutMs: first }, { ...b, lastPutMs: first + 5000 }]));
      clock.advance(60_000);
      await s.put(Buffer.from('package a'));
      assert.equal((await s.list()).find((x) => x.sha256 === a.sha256)?.lastPutMs, first + 65_000);
    }));

    it('deletes a blob only if it was last put before the time given', withStore(async (s, clock) => {
      const putAt = clock.now();
      const ref = await s.put(Buffer.from('gone soon'));
      clock.advance(1000);
      assert.equal(await s.deleteIfPutBefore(ref.sha256, putAt), false, 'put at that very time: kept');
      assert.equal(await s.has(ref), true);
      assert.equal(await s.deleteIfPutBefore(ref.sha256, putAt + 1), true);
      assert.equal(await s.has(ref), false);
      await assert.rejects(s.get(ref), { code: 'ResourceNotFound' });
      assert.deepEqual(await s.list(), []);
      assert.equal(await s.deleteIfPutBefore(ref.sha256, clock.now()), false, 'nothing left to delete');
      await s.put(Buffer.from('gone soon'));
      assert.deepEqual(await s.get(ref), Buffer.from('gone soon'), 'stored again after a delete');
    }));

    it('a put racing a delete of the same bytes leaves them stored', withStore(async (s, clock) => {
      const bytes = randomBytes(700 * 1024);
      const ref = await s.put(bytes);
      clock.advance(10_000);
      for (let round = 0; round < 5; round++) {
        await Promise.all([s.deleteIfPutBefore(ref.sha256, clock.now()), s.put(bytes)]);
        assert.ok((await s.get(ref)).equals(bytes), `round ${round}`);
        clock.advance(10_000);
      }
    }));

    it('keeps a multi-megabyte package byte for byte', withStore(async (s) => {
      const bytes = randomBytes(3 * 1024 * 1024 + 12345);
      const ref = await s.put(bytes);
      assert.equal(ref.size, bytes.length);
      assert.ok((await s.get(ref)).equals(bytes));
      assert.deepEqual((await s.list()).map((b) => b.size), [bytes.length]);
    }));

    it('stores an empty package', withStore(async (s) => {
      const ref = await s.put(Buffer.alloc(0));
      assert.equal(ref.size, 0);
      assert.equal((await s.get(ref)).length, 0);
    }));
  });
}
