import { createHash } from 'node:crypto';
import { StratusError } from '../shared/errors.js';
import type { CodeRef, CodeStore } from './code-store.js';

/** In-memory fake CodeStore for unit tests. */
export class MemoryCodeStore implements CodeStore {
  private readonly blobs = new Map<string, Buffer>();

  async put(bytes: Buffer): Promise<CodeRef> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    this.blobs.set(sha256, Buffer.from(bytes));
    return { sha256, size: bytes.length };
  }

  async get(ref: CodeRef): Promise<Buffer> {
    const blob = this.blobs.get(ref.sha256);
    if (!blob) throw new StratusError('ResourceNotFound', `Code package ${ref.sha256} is not in the code store`);
    return Buffer.from(blob);
  }

  async has(ref: CodeRef): Promise<boolean> {
    return this.blobs.has(ref.sha256);
  }

  async delete(ref: CodeRef): Promise<void> {
    this.blobs.delete(ref.sha256);
  }
}
