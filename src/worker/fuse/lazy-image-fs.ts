/**
 * Stratus's FUSE image server: a process of its own (one per mounted image) that exposes an
 * image's EROFS filesystem as one read-only file, `<mountpoint>/image.erofs`, assembled on
 * demand from 512 KiB chunks. A read fetches only the chunks it touches, from the worker's chunk
 * server (the worker's local cache, then the code store); a read that continues where the last
 * one ended also prefetches the next chunks, a random read does not. A chunk that cannot be
 * fetched fails the read with EIO and is asked for again on the next read.
 *
 * Usage: node lazy-image-fs.js <spec.json>   (prints "ready" once mounted; SIGTERM unmounts)
 */
import { readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { createRequire } from 'node:module';

interface FuseMount {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
}
type FuseClass = (new (mnt: string, ops: object, opts: object) => FuseMount) & Record<'ENOENT' | 'EIO' | 'EROFS', number>;
const Fuse = createRequire(import.meta.url)('@cocalc/fuse-native') as FuseClass;

export interface LazyImageSpec {
  mountpoint: string;
  /** The worker's chunk server socket. */
  socket: string;
  /** The account whose image this is: its chunks come from that account's part of the cache. */
  accountId: string;
  size: number;
  chunkSize: number;
  chunks: string[];
  /** Chunks fetched ahead on sequential reads. */
  prefetch: number;
}

const FILE = '/image.erofs';
/** Chunks kept in this process's memory (the reads of one chunk arrive as many small requests). */
const MEMORY_CHUNKS = 64;

class ChunkReader {
  private readonly memory = new Map<number, Buffer>();
  private readonly inflight = new Map<number, Promise<Buffer>>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });
  private lastEnd = -1;

  constructor(private readonly spec: LazyImageSpec) {}

  async read(buf: Buffer, length: number, position: number): Promise<number> {
    const { size, chunkSize } = this.spec;
    const end = Math.min(position + length, size);
    if (position >= end) return 0;
    const sequential = position === this.lastEnd;
    this.lastEnd = end;
    const first = Math.floor(position / chunkSize);
    const last = Math.floor((end - 1) / chunkSize);
    if (sequential) this.prefetch(last + 1);
    let copied = 0;
    for (let i = first; i <= last; i++) {
      const chunk = await this.chunk(i);
      const from = Math.max(position, i * chunkSize) - i * chunkSize;
      const to = Math.min(end, (i + 1) * chunkSize) - i * chunkSize;
      copied += chunk.copy(buf, copied, from, to);
    }
    return copied;
  }

  private prefetch(from: number): void {
    const until = Math.min(from + this.spec.prefetch, this.spec.chunks.length);
    for (let i = from; i < until; i++) this.chunk(i).catch(() => {});
  }

  private chunk(index: number): Promise<Buffer> {
    const held = this.memory.get(index);
    if (held) {
      this.memory.delete(index);
      this.memory.set(index, held);
      return Promise.resolve(held);
    }
    let pending = this.inflight.get(index);
    if (!pending) {
      pending = this.fetch(this.spec.chunks[index] ?? '').then((bytes) => {
        this.memory.set(index, bytes);
        for (const oldest of this.memory.keys()) {
          if (this.memory.size <= MEMORY_CHUNKS) break;
          this.memory.delete(oldest);
        }
        return bytes;
      }).finally(() => this.inflight.delete(index));
      this.inflight.set(index, pending);
    }
    return pending;
  }

  private fetch(sha256: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const req = get({ socketPath: this.spec.socket, path: `/chunks/${this.spec.accountId}/${sha256}`, agent: this.agent }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => {
          const body = Buffer.concat(parts);
          if (res.statusCode === 200) resolve(body);
          else reject(new Error(`chunk ${sha256}: ${body.toString('utf8') || `HTTP ${res.statusCode}`}`));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  }
}

function serve(spec: LazyImageSpec): void {
  const reader = new ChunkReader(spec);
  const now = new Date(0);
  const stat = (mode: number, size: number) => ({ mtime: now, atime: now, ctime: now, nlink: 1, size, mode, uid: 0, gid: 0 });
  const ops = {
    readdir: (path: string, cb: (err: number, names?: string[]) => void) => (path === '/' ? cb(0, [FILE.slice(1)]) : cb(Fuse.ENOENT)),
    getattr: (path: string, cb: (err: number, st?: unknown) => void) => {
      if (path === '/') return cb(0, stat(0o40555, 4096));
      if (path === FILE) return cb(0, stat(0o100444, spec.size));
      return cb(Fuse.ENOENT);
    },
    open: (path: string, flags: number, cb: (err: number, fd?: number) => void) => {
      if (path !== FILE) return cb(Fuse.ENOENT);
      if ((flags & 3) !== 0) return cb(Fuse.EROFS);
      return cb(0, 42);
    },
    release: (_path: string, _fd: number, cb: (err: number) => void) => cb(0),
    read: (_path: string, _fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => {
      reader.read(buf, len, pos).then(cb, (err: unknown) => {
        process.stderr.write(`lazy-image-fs: read at ${pos} failed: ${err instanceof Error ? err.message : String(err)}\n`);
        cb(Fuse.EIO);
      });
    },
  };
  const fuse = new Fuse(spec.mountpoint, ops, { force: true, mkdir: true, allowOther: true, kernelCache: true, attrTimeout: 3600, entryTimeout: 3600, timeout: false });
  fuse.mount((err) => {
    if (err) {
      process.stderr.write(`lazy-image-fs: mount failed: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write('ready\n');
  });
  const stop = () => fuse.unmount(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

const specPath = process.argv[2];
if (specPath) serve(JSON.parse(readFileSync(specPath, 'utf8')) as LazyImageSpec);
