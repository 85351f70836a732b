import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StratusError } from '../shared/errors.js';
import { temporaryName } from './fs-leftovers.js';
import type { CodeRef, CodeStore } from './code-store.js';

/** Blobs as files named by their sha256 under `<root>/sha256/`, written atomically. */
export class FilesystemCodeStore implements CodeStore {
  private readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'sha256');
  }

  async put(bytes: Buffer): Promise<CodeRef> {
    const ref = { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
    if (await this.has(ref)) return ref;
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, temporaryName());
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, this.pathOf(ref));
    } catch (err) {
      await rm(tmp, { force: true }); // a full disk leaves no partial file behind
      throw err;
    }
    return ref;
  }

  async get(ref: CodeRef): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(ref));
    } catch (cause) {
      throw new StratusError('ResourceNotFound', `Code package ${ref.sha256} is not in the code store`, { cause });
    }
  }

  async has(ref: CodeRef): Promise<boolean> {
    return stat(this.pathOf(ref)).then(
      (s) => s.size === ref.size,
      () => false,
    );
  }

  async delete(ref: CodeRef): Promise<void> {
    await rm(this.pathOf(ref), { force: true });
  }

  private pathOf(ref: CodeRef): string {
    if (!/^[0-9a-f]{64}$/.test(ref.sha256)) throw new StratusError('InvalidParameterValue', 'Malformed code digest');
    return join(this.dir, ref.sha256);
  }
}
