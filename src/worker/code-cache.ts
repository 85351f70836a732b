import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { extractZip, type CodeRef, type CodeStore, type ZipLimits } from '../codestore/index.js';
import type { ChunkSource } from './chunk-cache.js';

/** Where a worker reads code from: the code store itself, or the control plane (zips, image chunks, image manifests). */
export type CodeSource = Pick<CodeStore, 'get'> & ChunkSource;

/**
 * "The files of this function version": for a zip, a directory the sandbox driver binds at
 * /var/task; for a container image, its read-only root filesystem (mounted lazily).
 */
export interface TaskFiles {
  resolve(code: CodeRef): Promise<string>;
  /** The mounted root filesystem of an image (by manifest digest). */
  resolveImage(digest: string): Promise<string>;
}

/** Zips unpacked once per digest; images mounted once per digest. */
export class FunctionFiles implements TaskFiles {
  constructor(private readonly zips: UnpackedZipCache, private readonly images: { resolve(digest: string): Promise<string> }) {}

  resolve(code: CodeRef): Promise<string> {
    return this.zips.resolve(code);
  }

  resolveImage(digest: string): Promise<string> {
    return this.images.resolve(digest);
  }
}

/** Unpacks each code package once into `<root>/<sha256>/`, atomically, shared by all sandboxes. */
export class UnpackedZipCache {
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(private readonly root: string, private readonly store: CodeSource, private readonly limits: ZipLimits) {}

  resolve(code: CodeRef): Promise<string> {
    let dir = this.inflight.get(code.sha256);
    if (!dir) {
      dir = this.unpack(code);
      this.inflight.set(code.sha256, dir);
      dir.catch(() => this.inflight.delete(code.sha256));
    }
    return dir;
  }

  private async unpack(code: CodeRef): Promise<string> {
    const target = join(this.root, code.sha256);
    if (await exists(target)) return target;
    const tmp = join(this.root, `.unpack-${randomUUID()}`);
    await mkdir(tmp, { recursive: true, mode: 0o755 });
    try {
      await extractZip(await this.store.get(code), tmp, this.limits);
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      if (await exists(target)) return target;
      throw err;
    }
    return target;
  }
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
