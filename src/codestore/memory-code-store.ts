import { createHash } from 'node:crypto';
import { systemClock, type Clock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import type { CodeRef, CodeStore, StoredBlob } from './code-store.js';

/** In-memory fake CodeStore for unit tests. */
export class MemoryCodeStore implements CodeStore {
  private readonly blobs = new Map<string, { bytes: Buffer; lastPutMs: number }>();

  constructor(private readonly clock: Clock = systemClock) {}

  async put(bytes: Buffer): Promise<CodeRef> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    this.blobs.set(sha256, { bytes: this.blobs.get(sha256)?.bytes ?? Buffer.from(bytes), lastPutMs: this.clock.now() });
    return { sha256, size: bytes.length };
  }

  async get(ref: CodeRef): Promise<Buffer> {
    const blob = this.blobs.get(ref.sha256);
    if (!blob) throw new StratusError('ResourceNotFound', `Code package ${ref.sha256} is not in the code store`);
    return Buffer.from(blob.bytes);
  }

  async has(ref: CodeRef): Promise<boolean> {
    return this.blobs.has(ref.sha256);
  }

  async list(): Promise<StoredBlob[]> {
    return [...this.blobs].map(([sha256, b]) => ({ sha256, size: b.bytes.length, lastPutMs: b.lastPutMs }));
  }

  async deleteIfPutBefore(sha256: string, putBeforeMs: number): Promise<boolean> {
    const blob = this.blobs.get(sha256);
    if (!blob || blob.lastPutMs >= putBeforeMs) return false;
    return this.blobs.delete(sha256);
  }
}
