import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CodeRef, ZipLimits } from '../codestore/index.js';
import { accountDir } from './account-dirs.js';
import { ZipCodeMounts, type CodeSource } from './code-cache.js';
import { unmount } from './erofs-mount.js';
import { OncePerKey } from './once-per-key.js';

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
 */
export class LayerMounts {
  private readonly versions: ZipCodeMounts;
  private readonly sets = new OncePerKey<string>();

  constructor(private readonly root: string, source: CodeSource, limits: ZipLimits & { mkfsErofsPath: string }) {
    this.versions = new ZipCodeMounts(join(root, 'versions'), source, limits);
  }

  /** The directory to bind at /opt for `layers` (in the function's order). */
  resolve(accountId: string, layers: readonly CodeRef[]): Promise<string> {
    // The same files twice: the later place is the one that counts.
    const distinct = layers.filter((l, i) => !layers.slice(i + 1).some((later) => later.sha256 === l.sha256));
    const [only] = distinct;
    if (only && distinct.length === 1) return this.versions.resolve(accountId, only);
    return this.sets.get(`${accountId}/${distinct.map((l) => l.sha256).join(':')}`, () => this.merge(accountId, distinct));
  }

  private async merge(accountId: string, layers: readonly CodeRef[]): Promise<string> {
    await Promise.all(layers.map((l) => this.versions.resolve(accountId, l)));
    const name = createHash('sha256').update(layers.map((l) => l.sha256).join(':')).digest('hex');
    const target = join(accountDir(join(this.root, 'sets'), accountId), name, 'root');
    await mkdir(target, { recursive: true, mode: 0o755 });
    await unmount(target);
    // overlayfs: the first lower directory is the top one, so the last layer comes first.
    const lower = [...layers].reverse().map((l) => `${l.sha256}/root`).join(':');
    await run('mount', ['--no-canonicalize', '-t', 'overlay', '-o', `ro,lowerdir=${lower}`, 'layers', target], {
      cwd: accountDir(join(this.root, 'versions'), accountId),
    });
    return target;
  }

  /** Detaches what a killed predecessor left mounted (merged sets first, then the layers under them). */
  async cleanup(): Promise<void> {
    const sets = join(this.root, 'sets');
    for (const account of await readdir(sets).catch(() => [] as string[])) {
      for (const name of await readdir(join(sets, account)).catch(() => [] as string[])) await unmount(join(sets, account, name, 'root'));
    }
    await this.versions.cleanup();
  }

  async shutdown(): Promise<void> {
    for (const m of await Promise.allSettled(this.sets.takeAll())) if (m.status === 'fulfilled') await unmount(m.value);
    await this.versions.shutdown();
  }
}
