import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { CodeStore } from '../../src/codestore/index.js';

/** The contract every CodeStore passes: content addressing, idempotent puts, clean misses. */
export function runCodeStoreContract(name: string, make: () => Promise<{ store: CodeStore; cleanup(): Promise<void> }>): void {
  describe(`CodeStore contract: ${name}`, () => {
    const withStore = (fn: (s: CodeStore) => Promise<void>) => async () => {
      const { store, cleanup } = await make();
      try {
        await fn(store);
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
    }));

    it('reports a missing package as ResourceNotFound, and deletes', withStore(async (s) => {
      const ref = await s.put(Buffer.from('gone soon'));
      await s.delete(ref);
      assert.equal(await s.has(ref), false);
      await assert.rejects(s.get(ref), { code: 'ResourceNotFound' });
    }));

    it('keeps a multi-megabyte package byte for byte', withStore(async (s) => {
      const bytes = randomBytes(3 * 1024 * 1024 + 12345);
      const ref = await s.put(bytes);
      assert.equal(ref.size, bytes.length);
      assert.ok((await s.get(ref)).equals(bytes));
    }));

    it('stores an empty package', withStore(async (s) => {
      const ref = await s.put(Buffer.alloc(0));
      assert.equal(ref.size, 0);
      assert.equal((await s.get(ref)).length, 0);
    }));
  });
}
