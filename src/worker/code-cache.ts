import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
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

/**
 * Directories built once per digest under `<root>/<digest>/`: filled in a temporary directory,
 * then renamed into place, however many callers ask at once. Code packages and SnapStart
 * snapshots are unpacked this way.
 */
export class DigestDirs {
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(readonly root: string) {}

  get(digest: string, fill: (dir: string) => Promise<void>): Promise<string> {
    let dir = this.inflight.get(digest);
    if (!dir) {
      dir = this.build(digest, fill);
      this.inflight.set(digest, dir);
      dir.catch(() => this.inflight.delete(digest));
    }
    return dir;
  }

  /** A fresh directory beside the cache (same file system, so it can be renamed into it). */
  async scratch(prefix: string, mode: number): Promise<string> {
    const dir = join(this.root, `.${prefix}-${randomUUID()}`);
    await mkdir(dir, { recursive: true, mode });
    return dir;
  }

  /** Removes scratch directories (a killed process's half-made ones). */
  async removeScratch(): Promise<void> {
    const names = await readdir(this.root).catch(() => []);
    await Promise.all(names.filter((n) => n.startsWith('.')).map((n) => rm(join(this.root, n), { recursive: true, force: true })));
  }

  /** Makes `dir` the directory of `digest` (dropping it if that exists already). */
  async adopt(dir: string, digest: string): Promise<void> {
    const target = join(this.root, digest);
    if (await exists(target)) await rm(dir, { recursive: true, force: true });
    else await rename(dir, target);
  }

  private async build(digest: string, fill: (dir: string) => Promise<void>): Promise<string> {
    const target = join(this.root, digest);
    if (await exists(target)) return target;
    const tmp = await this.scratch('unpack', 0o755);
    try {
      await fill(tmp);
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      if (await exists(target)) return target;
      throw err;
    }
    return target;
  }
}

/** Unpacks each code package once into `<root>/<sha256>/`, atomically, shared by all sandboxes. */
export class UnpackedZipCache {
  private readonly dirs: DigestDirs;

  constructor(root: string, private readonly store: CodeSource, private readonly limits: ZipLimits) {
    this.dirs = new DigestDirs(root);
  }

  resolve(code: CodeRef): Promise<string> {
    return this.dirs.get(code.sha256, async (dir) => extractZip(await this.store.get(code), dir, this.limits));
  }
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
