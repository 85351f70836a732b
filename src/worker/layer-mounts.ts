import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CodeRef, ZipLimits } from '../codestore/index.js';
import { accountDir, checkedAccountId } from './account-dirs.js';
import { Leases, type CacheLeases, type LeasedEntries } from './cache-leases.js';
import { ZipCodeMounts, type CodeSource } from './code-cache.js';
import { unmount } from './erofs-mount.js';

const run = promisify(execFile);

/**
 * A function's layers as its sandbox's /opt, built once per account and shared by every
 * environment (and function) of that account that uses them, never copied per environment:
 * each layer version's zip is one read-only EROFS image mounted once per account and digest
 * (`<root>/versions/<accountId>/<sha256>/root`, as function code is); a function with several
 * layers gets them merged in order by a read-only overlay (the later layer's file over the
 * earlier one's) mounted once per account and ordered list (`<root>/sets/<accountId>/<key>/root`).
 * The overlay names its layers relative to the account's directory, so a sandbox's mountinfo
 * shows digests, never a host path. Nothing is shared across accounts, even for the same layer.
 * Images and sets are entries of the worker's `CacheLeases` (caches `layers` and `layer-sets`): a
 * set holds its layers' images while it is mounted, environments hold their set (or single
 * layer), and what none holds is removed after the idle time.
 */
export class LayerMounts {
  private readonly versions: ZipCodeMounts;
  private readonly sets: LeasedEntries<string>;
  /** Each merged set's leases on its layers' images (released when the set is removed). */
  private readonly setLayers = new Map<string, Leases>();

  constructor(private readonly root: string, source: CodeSource, limits: ZipLimits & { mkfsErofsPath: string }, caches: CacheLeases) {
    this.versions = new ZipCodeMounts(join(root, 'versions'), source, limits, caches, 'layers');
    this.sets = caches.cache('layer-sets', (key) => this.remove(key));
  }

  /** The directory to bind at /opt for `layers` (in the function's order), held by `leases`. */
  resolve(accountId: string, layers: readonly CodeRef[], leases: Leases): Promise<string> {
    // The same files twice: the later place is the one that counts.
    const distinct = layers.filter((l, i) => !layers.slice(i + 1).some((later) => later.sha256 === l.sha256));
    const [only] = distinct;
    if (only && distinct.length === 1) return this.versions.resolve(accountId, only, leases);
    const name = createHash('sha256').update(distinct.map((l) => l.sha256).join(':')).digest('hex');
    return this.sets.use(`${checkedAccountId(accountId)}/${name}`, leases, () => this.merge(accountId, name, distinct));
  }

  /** One overlay over the layers' images, which it holds while it is mounted (a merge that fails holds nothing). */
  private async merge(accountId: string, name: string, layers: readonly CodeRef[]): Promise<{ value: string; bytes: number }> {
    const key = `${accountId}/${name}`;
    const held = new Leases();
    this.setLayers.get(key)?.releaseAll();
    this.setLayers.set(key, held);
    try {
      return await this.mountSet(accountId, name, layers, held);
    } catch (err) {
      held.releaseAll();
      if (this.setLayers.get(key) === held) this.setLayers.delete(key);
      throw err;
    }
  }

  private async mountSet(accountId: string, name: string, layers: readonly CodeRef[], held: Leases): Promise<{ value: string; bytes: number }> {
    await Promise.all(layers.map((l) => this.versions.resolve(accountId, l, held)));
    const target = join(accountDir(join(this.root, 'sets'), accountId), name, 'root');
    await mkdir(target, { recursive: true, mode: 0o755 });
    await unmount(target);
    // overlayfs: the first lower directory is the top one, so the last layer comes first.
    const lower = [...layers].reverse().map((l) => `${l.sha256}/root`).join(':');
    await run('mount', ['--no-canonicalize', '-t', 'overlay', '-o', `ro,lowerdir=${lower}`, 'layers', target], {
      cwd: accountDir(join(this.root, 'versions'), accountId),
    });
    return { value: target, bytes: 0 };
  }

  /** A set no environment uses any more: its overlay unmounted and deleted, its layers' images released. */
  private async remove(key: string): Promise<void> {
    const [accountId = '', name = ''] = key.split('/');
    const dir = join(accountDir(join(this.root, 'sets'), accountId), name);
    await unmount(join(dir, 'root'));
    await rm(dir, { recursive: true, force: true });
    this.setLayers.get(key)?.releaseAll();
    this.setLayers.delete(key);
  }

  /** Detaches what a killed predecessor left mounted (merged sets first, removed: cheap to merge again; then the layers under them). */
  async cleanup(): Promise<void> {
    const sets = join(this.root, 'sets');
    for (const account of await readdir(sets).catch(() => [] as string[])) {
      for (const name of await readdir(join(sets, account)).catch(() => [] as string[])) await unmount(join(sets, account, name, 'root'));
      await rm(join(sets, account), { recursive: true, force: true });
    }
    await this.versions.cleanup();
  }

  async shutdown(): Promise<void> {
    for (const key of this.sets.keys()) {
      const [accountId = '', name = ''] = key.split('/');
      await unmount(join(accountDir(join(this.root, 'sets'), accountId), name, 'root'));
    }
    await this.versions.shutdown();
  }
}
