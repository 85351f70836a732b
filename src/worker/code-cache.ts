import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { extractZip, type CodeRef, type CodeStore, type ZipLimits } from '../codestore/index.js';
import { buildErofs } from '../images/index.js';
import type { ChunkSource } from './chunk-cache.js';
import { mountErofs, unmount } from './erofs-mount.js';

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
  constructor(private readonly zips: Pick<ZipCodeMounts, 'resolve'>, private readonly images: { resolve(digest: string): Promise<string> }) {}

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

  /** Lets `digest` be built again (its directory was removed). */
  forget(digest: string): void {
    this.inflight.delete(digest);
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

const CODE_IMAGE = 'code.erofs';

/**
 * Each code package once per digest as a read-only EROFS image (`<root>/<sha256>/code.erofs`,
 * built atomically from the unpacked zip), mounted at `<root>/<sha256>/root` and shared by all
 * sandboxes of that code. A sandbox's /var/task is then the root of a filesystem of its own: its
 * mountinfo shows "/" and a neutral source, never the data directory.
 */
export class ZipCodeMounts {
  private readonly dirs: DigestDirs;
  private readonly mounts = new Map<string, Promise<string>>();

  constructor(root: string, private readonly store: CodeSource, private readonly limits: ZipLimits & { mkfsErofsPath: string }) {
    this.dirs = new DigestDirs(root);
  }

  resolve(code: CodeRef): Promise<string> {
    let mounted = this.mounts.get(code.sha256);
    if (!mounted) {
      mounted = this.mount(code);
      this.mounts.set(code.sha256, mounted);
      mounted.catch(() => this.mounts.delete(code.sha256));
    }
    return mounted;
  }

  private async mount(code: CodeRef): Promise<string> {
    const build = (dir: string) => this.build(code, dir);
    let dir = await this.dirs.get(code.sha256, build);
    if (!(await exists(join(dir, CODE_IMAGE)))) {
      // Unpacked by an earlier Stratus (a plain directory): built again as an image.
      await rm(dir, { recursive: true, force: true });
      this.dirs.forget(code.sha256);
      dir = await this.dirs.get(code.sha256, build);
    }
    const root = join(dir, 'root');
    await mountErofs(join(dir, CODE_IMAGE), root);
    return root;
  }

  private async build(code: CodeRef, dir: string): Promise<void> {
    const tree = join(dir, 'tree');
    await mkdir(tree, { mode: 0o755 });
    await extractZip(await this.store.get(code), tree, this.limits);
    await buildErofs(this.limits.mkfsErofsPath, tree, join(dir, CODE_IMAGE));
    await rm(tree, { recursive: true, force: true });
    await mkdir(join(dir, 'root'), { mode: 0o755 });
  }

  /** Detaches what a killed predecessor left mounted (before anything is resolved). */
  async cleanup(): Promise<void> {
    await this.dirs.removeScratch();
    for (const name of await readdir(this.dirs.root).catch(() => [] as string[])) await unmount(join(this.dirs.root, name, 'root'));
  }

  async shutdown(): Promise<void> {
    const all = [...this.mounts.values()];
    this.mounts.clear();
    for (const m of await Promise.allSettled(all)) if (m.status === 'fulfilled') await unmount(m.value);
  }
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
