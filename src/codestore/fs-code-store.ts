import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import type { CodeRef, CodeStore, StoredBlob } from './code-store.js';
import { atomicWrite, filesIn, removeIfModifiedBefore, touch } from './fs-files.js';
import { KeyLock } from './key-lock.js';

const DIGEST = /^[0-9a-f]{64}$/;

/**
 * Blobs as files named by their sha256 under `<root>/sha256/`, written atomically; a file's
 * mtime is its last-put time (set from the Clock).
 */
export class FilesystemCodeStore implements CodeStore {
  private readonly dir: string;
  private readonly lock = new KeyLock();

  constructor(root: string, private readonly clock: Clock = systemClock) {
    this.dir = join(root, 'sha256');
  }

  async put(bytes: Buffer): Promise<CodeRef> {
    const ref = { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
    const path = this.pathOf(ref.sha256);
    await this.lock.run(ref.sha256, async () => {
      if ((await this.has(ref)) && (await touch(path, this.clock.now()))) return;
      await atomicWrite(path, bytes, this.clock.now());
    });
    return ref;
  }

  async get(ref: CodeRef): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(ref.sha256));
    } catch (cause) {
      throw new StratusError('ResourceNotFound', `Code package ${ref.sha256} is not in the code store`, { cause });
    }
  }

  async has(ref: CodeRef): Promise<boolean> {
    return stat(this.pathOf(ref.sha256)).then(
      (s) => s.size === ref.size,
      () => false,
    );
  }

  async list(): Promise<StoredBlob[]> {
    return (await filesIn(this.dir, DIGEST)).map((f) => ({ sha256: f.name, size: f.size, lastPutMs: f.mtimeMs }));
  }

  deleteIfPutBefore(sha256: string, putBeforeMs: number): Promise<boolean> {
    const path = this.pathOf(sha256);
    return this.lock.run(sha256, () => removeIfModifiedBefore(path, putBeforeMs));
  }

  private pathOf(sha256: string): string {
    if (!DIGEST.test(sha256)) throw new StratusError('InvalidParameterValue', 'Malformed code digest');
    return join(this.dir, sha256);
  }
}
