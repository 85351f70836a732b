import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { extractZip, type CodeRef, type CodeStore, type ZipLimits } from '../codestore/index.js';
import { buildErofs } from '../images/index.js';
import { StratusError } from '../shared/errors.js';
import { accountDir, isAccountDir } from './account-dirs.js';
import type { ChunkSource } from './chunk-cache.js';
import { mountErofs, unmount } from './erofs-mount.js';
import { OncePerKey } from './once-per-key.js';

/** Where a worker reads code from: the code store itself, or the control plane (zips, image chunks, image manifests). */
export type CodeSource = Pick<CodeStore, 'get'> & ChunkSource;

/**
 * "The files of this function version", for the account that owns it: for a zip, a directory the
 * sandbox driver binds at /var/task; for a container image, its read-only root filesystem
 * (mounted lazily). Never shared between accounts: two accounts with the same digest get two
 * directories (and two mounts), so one account's sandbox cannot observe another's files, nor
 * that another account runs the same code.
 */
export interface TaskFiles {
  resolve(accountId: string, code: CodeRef): Promise<string>;
  /** The mounted root filesystem of an image (by manifest digest). */
  resolveImage(accountId: string, digest: string): Promise<string>;
  /** A zip function's layers, merged in order: the directory bound read-only at /opt (absent: this worker runs no layers). */
  resolveLayers?(accountId: string, layers: readonly CodeRef[]): Promise<string>;
}

/** A zip function's files: its code for /var/task and, with layers, their merge for /opt (both read-only, shared). */
export async function zipFiles(files: TaskFiles, spec: { accountId: string; package: { code: CodeRef }; layers?: readonly CodeRef[] }): Promise<{ taskDir: string; optDir?: string }> {
  const [taskDir, optDir] = await Promise.all([
    files.resolve(spec.accountId, spec.package.code),
    spec.layers?.length ? layersOf(files, spec.accountId, spec.layers) : undefined,
  ]);
  return { taskDir, ...(optDir ? { optDir } : {}) };
}

function layersOf(files: TaskFiles, accountId: string, layers: readonly CodeRef[]): Promise<string> {
  return files.resolveLayers?.(accountId, layers) ?? noLayerCache();
}

const noLayerCache = () => Promise.reject(new StratusError('SandboxCreateFailed', 'this worker has no layer cache'));

/** Zips unpacked once per account and digest; images mounted once per account and digest. */
export class FunctionFiles implements TaskFiles {
  constructor(
    private readonly zips: Pick<ZipCodeMounts, 'resolve'>,
    private readonly images: { resolve(accountId: string, digest: string): Promise<string> },
    private readonly layers?: { resolve(accountId: string, layers: readonly CodeRef[]): Promise<string> },
  ) {}

  resolveLayers(accountId: string, layers: readonly CodeRef[]): Promise<string> {
    return this.layers?.resolve(accountId, layers) ?? noLayerCache();
  }

  resolve(accountId: string, code: CodeRef): Promise<string> {
    return this.zips.resolve(accountId, code);
  }

  resolveImage(accountId: string, digest: string): Promise<string> {
    return this.images.resolve(accountId, digest);
  }
}

/**
 * Directories built once per account and digest under `<root>/<accountId>/<digest>/`: filled in
 * a temporary directory, then renamed into place, however many callers ask at once. Code
 * packages and SnapStart snapshots are unpacked this way; an account's directory is never used
 * for another account, even for the same digest.
 */
export class DigestDirs {
  private readonly inflight = new OncePerKey<string>();

  constructor(readonly root: string) {}

  get(accountId: string, digest: string, fill: (dir: string) => Promise<void>): Promise<string> {
    return this.inflight.get(`${accountId}/${digest}`, () => this.build(accountId, digest, fill));
  }

  /** A fresh directory beside the cache (same file system, so it can be renamed into it). */
  async scratch(prefix: string, mode: number): Promise<string> {
    const dir = join(this.root, `.${prefix}-${randomUUID()}`);
    await mkdir(dir, { recursive: true, mode });
    return dir;
  }

  /** Lets `digest` be built again for the account (its directory was removed). */
  forget(accountId: string, digest: string): void {
    this.inflight.forget(`${accountId}/${digest}`);
  }

  /**
   * Removes scratch directories (a killed process's half-made ones) and what an older Stratus
   * kept per digest alone (`<root>/<digest>`, shared by all accounts); `before` is called on
   * each of those first (to unmount it).
   */
  async removeScratch(before: (dir: string) => Promise<void> = async () => {}): Promise<void> {
    const names = await readdir(this.root).catch(() => []);
    for (const name of names.filter((n) => !isAccountDir(n))) {
      await before(join(this.root, name));
      await rm(join(this.root, name), { recursive: true, force: true });
    }
  }

  /** Makes `dir` the account's directory of `digest` (dropping it if that exists already). */
  async adopt(dir: string, accountId: string, digest: string): Promise<void> {
    const target = join(accountDir(this.root, accountId), digest);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    if (await exists(target)) await rm(dir, { recursive: true, force: true });
    else await rename(dir, target);
  }

  private async build(accountId: string, digest: string, fill: (dir: string) => Promise<void>): Promise<string> {
    const target = join(accountDir(this.root, accountId), digest);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
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
 * Each code package once per account and digest as a read-only EROFS image
 * (`<root>/<accountId>/<sha256>/code.erofs`, built atomically from the unpacked zip), mounted at
 * `<root>/<accountId>/<sha256>/root` and shared by that account's sandboxes of that code. Another
 * account with the same package gets its own image and mount: no file, inode, device or page
 * cache is shared across accounts. A sandbox's /var/task is the root of a filesystem of its own:
 * its mountinfo shows "/" and a neutral source, never the data directory.
 */
export class ZipCodeMounts {
  private readonly dirs: DigestDirs;
  private readonly mounts = new OncePerKey<string>();

  constructor(root: string, private readonly store: CodeSource, private readonly limits: ZipLimits & { mkfsErofsPath: string }) {
    this.dirs = new DigestDirs(root);
  }

  resolve(accountId: string, code: CodeRef): Promise<string> {
    return this.mounts.get(`${accountId}/${code.sha256}`, () => this.mount(accountId, code));
  }

  private async mount(accountId: string, code: CodeRef): Promise<string> {
    const build = (dir: string) => this.build(code, dir);
    let dir = await this.dirs.get(accountId, code.sha256, build);
    if (!(await exists(join(dir, CODE_IMAGE)))) {
      // Half-made (no image): built again.
      await rm(dir, { recursive: true, force: true });
      this.dirs.forget(accountId, code.sha256);
      dir = await this.dirs.get(accountId, code.sha256, build);
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

  /**
   * Detaches what a killed predecessor left mounted (before anything is resolved), and removes
   * what an older Stratus kept per digest alone (shared by all accounts).
   */
  async cleanup(): Promise<void> {
    await this.dirs.removeScratch((dir) => unmount(join(dir, 'root')));
    for (const account of await readdir(this.dirs.root).catch(() => [] as string[])) {
      const dir = join(this.dirs.root, account);
      for (const name of await readdir(dir).catch(() => [] as string[])) await unmount(join(dir, name, 'root'));
    }
  }

  async shutdown(): Promise<void> {
    for (const m of await Promise.allSettled(this.mounts.takeAll())) if (m.status === 'fulfilled') await unmount(m.value);
  }
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
