import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { IMAGE_DIGEST } from '../codestore/index.js';
import { StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { accountDir, checkedAccountId, isAccountDir } from './account-dirs.js';
import type { CacheLeases, LeasedEntries, Leases } from './cache-leases.js';
import type { ChunkCache, ChunkSource } from './chunk-cache.js';
import { ChunkServer } from './chunk-server.js';
import type { LazyImageSpec } from './fuse/lazy-image-fs.js';
import { mountErofs, unmount } from './erofs-mount.js';

const FUSE_MAIN = fileURLToPath(new URL('./fuse/lazy-image-fs.js', import.meta.url));
const run = promisify(execFile);

export interface LazyImageMountsOptions {
  /** Mount points live here, one directory per account and image (`<root>/<accountId>/<digest hex>/{fuse,root}`). */
  root: string;
  cache: ChunkCache;
  /** Where image manifests come from (the code store, or the control plane). */
  source: ChunkSource;
  prefetchChunks: number;
  nodePath: string;
  log: Logger;
  /** The worker's cache entries: each mount is one, held by the environments that run it. */
  caches: CacheLeases;
}

interface Mounted {
  rootDir: string;
  fuseDir: string;
  fuse: ChildProcess;
  exited: Promise<void>;
}

/**
 * Image functions' root filesystems, mounted lazily and shared by one account's sandboxes of an
 * image (another account's functions of the same image get a mount, a FUSE server and cached
 * chunks of their own): a FUSE server process exposes the image's EROFS bytes as one file
 * (chunks fetched on first read), and the kernel mounts EROFS read-only on that file.
 */
export class LazyImageMounts {
  private readonly mounts = new Map<string, Mounted>();
  private readonly entries: LeasedEntries<string>;
  private server: Promise<ChunkServer> | undefined;
  private socketDir: string | undefined;

  constructor(private readonly opts: LazyImageMountsOptions) {
    this.entries = opts.caches.cache('images', (key) => this.remove(key));
  }

  /**
   * The mounted root filesystem, for `accountId`'s functions, of the image with this manifest
   * digest, held by `leases`; unmounted (its FUSE server stopped) once no environment has used it
   * for the worker's cache idle time.
   */
  resolve(accountId: string, digest: string, leases: Leases): Promise<string> {
    if (!IMAGE_DIGEST.test(digest)) return Promise.reject(new StratusError('Internal', `malformed image digest ${digest}`));
    const key = `${checkedAccountId(accountId)}/${digest}`;
    return this.entries.use(key, leases, async () => {
      const mounted = await this.mount(accountId, digest);
      this.mounts.set(key, mounted);
      return { value: mounted.rootDir, bytes: 0 };
    });
  }

  stats() {
    return { ...this.opts.cache.stats(), mountedImages: this.mounts.size };
  }

  private async remove(key: string): Promise<void> {
    const mounted = this.mounts.get(key);
    this.mounts.delete(key);
    if (mounted) await this.unmount(mounted);
    const [accountId = '', digest = ''] = key.split('/');
    await rm(this.dirOf(accountId, digest), { recursive: true, force: true });
  }

  private dirOf(accountId: string, digest: string): string {
    return join(accountDir(this.opts.root, accountId), digest.slice(7, 23));
  }

  private async mount(accountId: string, digest: string): Promise<Mounted> {
    const dir = this.dirOf(accountId, digest);
    const manifest = await this.opts.source.getImage(digest);
    if (!manifest) throw new StratusError('ResourceNotFound', `Image ${digest} is not in the code store`);
    const server = await (this.server ??= this.startServer());
    const [fuseDir, rootDir] = [join(dir, 'fuse'), join(dir, 'root')];
    await mkdir(fuseDir, { recursive: true });
    await mkdir(rootDir, { recursive: true });
    const spec: LazyImageSpec = {
      mountpoint: fuseDir, socket: server.path, accountId, size: manifest.size, chunkSize: manifest.chunkSize, chunks: manifest.chunks, prefetch: this.opts.prefetchChunks,
    };
    await writeFile(join(dir, 'spec.json'), JSON.stringify(spec));
    const fuse = spawn(this.opts.nodePath, [FUSE_MAIN, join(dir, 'spec.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => fuse.once('exit', () => resolve()));
    let stderr = '';
    fuse.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      this.opts.log.warn({ image: digest, fuse: d.toString().trim() }, 'image FUSE server');
    });
    const mounted = { rootDir, fuseDir, fuse, exited };
    try {
      await new Promise<void>((resolve, reject) => {
        fuse.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        void exited.then(() => reject(new Error(`the FUSE server exited: ${stderr.trim()}`)));
      });
      await mountErofs(join(fuseDir, 'image.erofs'), rootDir);
    } catch (cause) {
      await this.unmount(mounted);
      throw new StratusError('SandboxCreateFailed', `Image ${digest} could not be mounted: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    this.opts.log.info({ image: digest, chunks: manifest.chunks.length, bytes: manifest.size }, 'image mounted lazily');
    return mounted;
  }

  private async startServer(): Promise<ChunkServer> {
    this.socketDir = await mkdtemp(join(tmpdir(), `stratus-chunks-${process.pid}-`));
    const server = new ChunkServer(join(this.socketDir, 'chunks.sock'), this.opts.cache);
    await server.listen();
    return server;
  }

  private async unmount(m: Mounted): Promise<void> {
    await unmount(m.rootDir);
    m.fuse.kill('SIGTERM');
    const timer = setTimeout(() => m.fuse.kill('SIGKILL'), 3000);
    await m.exited;
    clearTimeout(timer);
    await run('fusermount', ['-uz', m.fuseDir]).catch(() => {});
  }

  async shutdown(): Promise<void> {
    if (this.mounts.size > 0) this.opts.log.info(this.stats(), 'image chunk cache at shutdown');
    for (const m of this.mounts.values()) await this.unmount(m);
    this.mounts.clear();
    if (this.server) await (await this.server).close().catch(() => {});
    if (this.socketDir) await rm(this.socketDir, { recursive: true, force: true });
  }

  /** Unmounts what a killed predecessor left under the root (lazily: nothing may still use it). */
  async cleanup(): Promise<void> {
    for (const name of await readdir(this.opts.root).catch(() => [] as string[])) {
      // `<root>/<accountId>/<image>`, or `<root>/<image>` as an older Stratus mounted them.
      const dirs = isAccountDir(name) ? (await readdir(join(this.opts.root, name)).catch(() => [] as string[])).map((i) => join(this.opts.root, name, i)) : [];
      for (const dir of [...dirs, join(this.opts.root, name)]) {
        await unmount(join(dir, 'root'));
        await run('fusermount', ['-uz', join(dir, 'fuse')]).catch(() => {});
      }
      await rm(join(this.opts.root, name), { recursive: true, force: true }).catch(() => {});
    }
  }
}
