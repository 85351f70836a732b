/**
 * SnapStart in the Node.js runtime client. A function registers hooks while it loads:
 *
 *   awslambda.registerBeforeSnapshot(async () => { await db.end(); });
 *   awslambda.registerAfterRestore(async () => { db = await connect(); });
 *
 * (the names of Lambda's Python `snapshot_restore_py`). With AWS_LAMBDA_INITIALIZATION_TYPE
 * snap-start the runtime, once the handler is loaded, runs the before-snapshot hooks (last
 * registered first), asks GET /runtime/restore/next (the sandbox is checkpointed while that
 * request waits), and in each restored clone reseeds randomness, then runs the after-restore
 * hooks (in registration order). A failing before hook fails the initialization
 * (/runtime/init/error), a failing after hook the restore (/runtime/restore/error).
 *
 * Reseeding: every clone starts with the same memory, so the PRNG states of V8 and OpenSSL
 * repeat across clones. After restore, Math.random and crypto's randomBytes, randomFill(Sync),
 * randomInt, randomUUID and getRandomValues draw from the kernel (/dev/urandom) instead.
 * Random values a function computed or cached during init (a UUID pool, a key) stay the same
 * in every clone: regenerate them in an after-restore hook.
 */
import { openSync, readSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

type Hook = () => unknown;
const before: Hook[] = [];
const after: Hook[] = [];

export const snapStartApi = {
  registerBeforeSnapshot(hook: Hook): void {
    if (typeof hook !== 'function') throw new TypeError('registerBeforeSnapshot expects a function');
    before.push(hook);
  },
  registerAfterRestore(hook: Hook): void {
    if (typeof hook !== 'function') throw new TypeError('registerAfterRestore expects a function');
    after.push(hook);
  },
};

export async function runBeforeSnapshot(): Promise<void> {
  for (const hook of [...before].reverse()) await hook();
}

export async function runAfterRestore(): Promise<void> {
  for (const hook of after) await hook();
}

/** Bytes from the kernel, read in 4 KB batches (the pool is created in the clone, after restore). */
class KernelEntropy {
  private readonly fd = openSync('/dev/urandom', 'r');
  private readonly pool = Buffer.alloc(4096);
  private offset = this.pool.length;

  fill(target: Uint8Array): void {
    let done = 0;
    while (done < target.length) {
      if (this.offset === this.pool.length) {
        readSync(this.fd, this.pool, 0, this.pool.length, null);
        this.offset = 0;
      }
      const n = Math.min(target.length - done, this.pool.length - this.offset);
      target.set(this.pool.subarray(this.offset, this.offset + n), done);
      done += n;
      this.offset += n;
    }
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    this.fill(out);
    return out;
  }

  /** Uniform in [0, 1) with 53 random bits, as V8's Math.random. */
  double(): number {
    const b = this.bytes(8);
    return ((b.readUInt32LE(0) >>> 5) * 67108864 + (b.readUInt32LE(4) >>> 6)) / 9007199254740992;
  }
}

type RandomCallback = (err: Error | null, value: never) => void;

/** Replaces every source of randomness a clone would otherwise share with its siblings. */
export function reseedRandomness(): void {
  const entropy = new KernelEntropy();
  // Loaded here, not at start-up: only a SnapStart restore needs it (node:crypto costs every cold start CPU).
  const crypto = require('node:crypto') as typeof import('node:crypto');
  const cjs = crypto as unknown as Record<string, unknown>;
  const view = (buf: ArrayBufferView, offset = 0, size?: number) =>
    new Uint8Array(buf.buffer, buf.byteOffset + offset, size ?? buf.byteLength - offset);
  const later = (cb: RandomCallback | undefined, value: unknown) => cb && process.nextTick(cb, null, value as never);

  Math.random = () => entropy.double();
  const randomBytes = (size: number, cb?: RandomCallback) => {
    const out = entropy.bytes(size);
    if (!cb) return out;
    later(cb, out);
    return undefined;
  };
  const randomFillSync = <T extends ArrayBufferView>(buf: T, offset?: number, size?: number): T => {
    entropy.fill(view(buf, offset, size));
    return buf;
  };
  const randomFill = (buf: ArrayBufferView, ...rest: unknown[]) => {
    const cb = rest.pop() as RandomCallback;
    later(cb, randomFillSync(buf, rest[0] as number | undefined, rest[1] as number | undefined));
  };
  const randomUUID = () => {
    const b = entropy.bytes(16);
    b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
    b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  const randomInt = (a: number, b?: number | RandomCallback, c?: RandomCallback) => {
    const [min, max, cb] = typeof b === 'number' ? [a, b, c] : [0, a, b];
    const range = max - min;
    const limit = 2 ** 48 - (2 ** 48 % range);
    let x: number;
    do x = entropy.bytes(6).readUIntBE(0, 6);
    while (x >= limit);
    const value = min + (x % range);
    if (!cb) return value;
    later(cb, value);
    return undefined;
  };
  const getRandomValues = <T extends ArrayBufferView | null>(array: T): T => {
    if (array) entropy.fill(view(array));
    return array;
  };
  const replace = (target: object | undefined, values: Record<string, unknown>) => {
    for (const [key, value] of Object.entries(values)) {
      const own = target && Object.getOwnPropertyDescriptor(target, key);
      if (target && (!own || own.configurable)) Object.defineProperty(target, key, { value, configurable: true, writable: true, enumerable: true });
    }
  };
  replace(cjs, { randomBytes, randomFillSync, randomFill, randomUUID, randomInt, pseudoRandomBytes: randomBytes });
  // crypto.getRandomValues and globalThis.crypto are the one webcrypto object: patch its class.
  replace(Object.getPrototypeOf(crypto.webcrypto) as object, { getRandomValues, randomUUID });
  syncBuiltinESMExports();
}
