import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { extractZip, type CodeRef, type CodeStore, type ZipLimits } from '../codestore/index.js';
import { buildErofs } from '../images/index.js';
import { StratusError } from '../shared/errors.js';
import { accountDir, checkedAccountId, isAccountDir } from './account-dirs.js';
import type { CacheLeases, LeasedEntries, Leases } from './cache-leases.js';
import type { ChunkSource } from './chunk-cache.js';
import { mountErofs, unmount } from './erofs-mount.js';

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
  /** Each method's entry is held by `leases` (an environment's, released when it is destroyed): it is not removed before. */
  resolve(accountId: string, code: CodeRef, leases: Leases): Promise<string>;
  /** The mounted root filesystem of an image (by manifest digest). */
  resolveImage(accountId: string, digest: string, leases: Leases): Promise<string>;
  /** A zip function's layers, merged in order: the directory bound read-only at /opt (absent: this worker runs no layers). */
  resolveLayers?(accountId: string, layers: readonly CodeRef[], leases: Leases): Promise<string>;
  /** Digests of the zips built here now (a hint for placement; absent: none). */
  cachedCode?(): string[];
}

/** A zip function's files: its code for /var/task and, with layers, their merge for /opt (both read-only, shared), held by `leases`. */
export async function zipFiles(
  files: TaskFiles, spec: { accountId: string; package: { code: CodeRef }; layers?: readonly CodeRef[] }, leases: Leases,
): Promise<{ taskDir: string; optDir?: string }> {
  const [taskDir, optDir] = await Promise.all([
    files.resolve(spec.accountId, spec.package.code, leases),
    spec.layers?.length ? layersOf(files, spec.accountId, spec.layers, leases) : undefined,
  ]);
  return { taskDir, ...(optDir ? { optDir } : {}) };
}

/**
 * A function's files for its sandbox, held by `leases`: a zip's (zipFiles), or a container
 * image's lazily mounted root filesystem (bound at /) with its /var/task.
 */
export async function functionFiles(
  files: TaskFiles,
  spec: { accountId: string; package: { type: 'Zip'; code: CodeRef } | { type: 'Image'; digest: string }; layers?: readonly CodeRef[] },
  leases: Leases,
): Promise<{ taskDir: string; optDir?: string; rootDir?: string }> {
  if (spec.package.type === 'Zip') return zipFiles(files, { ...spec, package: spec.package }, leases);
  const rootDir = await files.resolveImage(spec.accountId, spec.package.digest, leases);
  return { taskDir: join(rootDir, 'var/task'), rootDir };
}

function layersOf(files: TaskFiles, accountId: string, layers: readonly CodeRef[], leases: Leases): Promise<string> {
  return files.resolveLayers?.(accountId, layers, leases) ?? noLayerCache();
}

const noLayerCache = () => Promise.reject(new StratusError('SandboxCreateFailed', 'this worker has no layer cache'));

type Resolver<A> = { resolve(accountId: string, what: A, leases: Leases): Promise<string> };

/** Zips unpacked once per account and digest; images mounted once per account and digest. */
export class FunctionFiles implements TaskFiles {
  constructor(
    private readonly zips: Resolver<CodeRef> & Pick<ZipCodeMounts, 'cachedDigests'>,
    private readonly images: Resolver<string>,
    private readonly layers?: Resolver<readonly CodeRef[]>,
  ) {}

  resolveLayers(accountId: string, layers: readonly CodeRef[], leases: Leases): Promise<string> {
    return this.layers?.resolve(accountId, layers, leases) ?? noLayerCache();
  }

  resolve(accountId: string, code: CodeRef, leases: Leases): Promise<string> {
    return this.zips.resolve(accountId, code, leases);
  }

  resolveImage(accountId: string, digest: string, leases: Leases): Promise<string> {
    return this.images.resolve(accountId, digest, leases);
  }

  cachedCode(): string[] {
    return this.zips.cachedDigests();
  }
}

/**
 * Directories built once per account and digest under `<root>/<accountId>/<digest>/`: filled in
 * a temporary directory, then renamed into place (one build at a time per key: callers go through
 * `CacheLeases`, which also decides when a directory is removed). Code
 * packages and SnapStart snapshots are unpacked this way; an account's directory is never used
 * for another account, even for the same digest.
 */
export class DigestDirs {
  /** `admitWrite`: asked before a directory is filled (the data disk of `stratus up` refuses while it is full); a directory already there is no write. */
  constructor(readonly root: string, private readonly admitWrite: () => Promise<void> = async () => {}) {}

  /** The directory, filled by `fill` unless it is there (its caller, a `CacheLeases` use, runs one build per key at a time). */
  get(accountId: string, digest: string, fill: (dir: string) => Promise<void>): Promise<string> {
    return this.build(accountId, digest, fill);
  }

  /** A fresh directory beside the cache (same file system, so it can be renamed into it). */
  async scratch(prefix: string, mode: number): Promise<string> {
    const dir = join(this.root, `.${prefix}-${randomUUID()}`);
    await mkdir(dir, { recursive: true, mode });
    return dir;
  }

  /** Removes the account's directory of `digest` (it is built again on its next use). */
  async remove(accountId: string, digest: string): Promise<void> {
    await rm(join(accountDir(this.root, accountId), digest), { recursive: true, force: true });
  }

  /** The directories kept, as `<accountId>/<digest>` keys and their paths. */
  async list(): Promise<{ key: string; dir: string }[]> {
    const out: { key: string; dir: string }[] = [];
    for (const account of (await readdir(this.root).catch(() => [] as string[])).filter(isAccountDir)) {
      for (const name of await readdir(join(this.root, account)).catch(() => [] as string[])) out.push({ key: `${account}/${name}`, dir: join(this.root, account, name) });
    }
    return out;
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
    await this.admitWrite();
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
 * its mountinfo shows "/" and a neutral source, never the data directory. Each image is an entry
 * of the worker's `CacheLeases`: held by the environments that use it, unmounted and deleted
 * once none has for the idle time (or earlier, unused, over the byte budget).
 */
export class ZipCodeMounts {
  private readonly dirs: DigestDirs;
  private readonly entries: LeasedEntries<string>;

  constructor(root: string, private readonly store: CodeSource, private readonly limits: ZipLimits & { mkfsErofsPath: string }, caches: CacheLeases, name = 'code') {
    this.dirs = new DigestDirs(root, () => caches.admitWrite());
    this.entries = caches.cache(name, (key) => this.remove(key));
  }

  resolve(accountId: string, code: CodeRef, leases: Leases): Promise<string> {
    return this.entries.use(`${checkedAccountId(accountId)}/${code.sha256}`, leases, () => this.mount(accountId, code));
  }

  /** Digests built here now (whichever account's). */
  cachedDigests(): string[] {
    return [...new Set(this.entries.keys().map((key) => key.slice(key.indexOf('/') + 1)))];
  }

  private async mount(accountId: string, code: CodeRef): Promise<{ value: string; bytes: number }> {
    const build = (dir: string) => this.build(code, dir);
    let dir = await this.dirs.get(accountId, code.sha256, build);
    if (!(await exists(join(dir, CODE_IMAGE)))) {
      // Half-made (no image): built again.
      await this.dirs.remove(accountId, code.sha256);
      dir = await this.dirs.get(accountId, code.sha256, build);
    }
    const root = join(dir, 'root');
    await mountErofs(join(dir, CODE_IMAGE), root);
    return { value: root, bytes: await sizeOf(join(dir, CODE_IMAGE)) };
  }

  private async build(code: CodeRef, dir: string): Promise<void> {
    const tree = join(dir, 'tree');
    await mkdir(tree, { mode: 0o755 });
    await extractZip(await this.store.get(code), tree, this.limits);
    await buildErofs(this.limits.mkfsErofsPath, tree, join(dir, CODE_IMAGE));
    await rm(tree, { recursive: true, force: true });
    await mkdir(join(dir, 'root'), { mode: 0o755 });
  }

  /** An entry no environment uses any more: unmounted (lazily) and deleted. */
  private async remove(key: string): Promise<void> {
    const [accountId = '', digest = ''] = key.split('/');
    await unmount(join(accountDir(this.dirs.root, accountId), digest, 'root'));
    await this.dirs.remove(accountId, digest);
  }

  /**
   * Detaches what a killed predecessor left mounted (before anything is resolved), and removes
   * what an older Stratus kept per digest alone (shared by all accounts). The images it left are
   * kept as unused entries: used again, or removed once idle.
   */
  async cleanup(): Promise<void> {
    await this.dirs.removeScratch((dir) => unmount(join(dir, 'root')));
    for (const { key, dir } of await this.dirs.list()) {
      await unmount(join(dir, 'root'));
      this.entries.adopt(key, await sizeOf(join(dir, CODE_IMAGE)));
    }
  }

  async shutdown(): Promise<void> {
    for (const { dir } of await this.dirs.list()) await unmount(join(dir, 'root'));
  }
}

/** A file's size (0 when absent). */
export function sizeOf(path: string): Promise<number> {
  return stat(path).then((s) => s.size, () => 0);
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
