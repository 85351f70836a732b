import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chunkedBlobDigest, type CodeRef } from '../codestore/index.js';
import { StratusError } from '../shared/errors.js';
import { accountDir, checkedAccountId } from './account-dirs.js';
import type { ChunkCache } from './chunk-cache.js';
import { Leases, type CacheLeases, type LeasedEntries } from './cache-leases.js';
import { DigestDirs, sizeOf, type CodeSource } from './code-cache.js';
import type { NextInvocation, RuntimeApiHandler } from './runtime-api.js';
import type { StreamedResponse } from './response-relay.js';

const run = promisify(execFile);

/**
 * The Runtime API of a snapshot boot (SnapStart on publish): the runtime initializes, its
 * first request for work is held by the sandbox's init, which asks for the checkpoint.
 * `ready` settles once the init has closed its connection (the checkpoint can be taken), or
 * rejects when the function's initialization fails.
 */
export class SnapshotBoot implements RuntimeApiHandler {
  readonly ready: Promise<void>;
  private resolve!: () => void;
  private reject!: (err: Error) => void;

  constructor() {
    this.ready = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.ready.catch(() => {});
  }

  /** `kind` 'init': the function's own initialization failed (the version is Failed, not Off). */
  fail(message: string, kind: 'init' | 'platform' = 'init'): void {
    this.reject(new StratusError('SnapshotFailed', message, { details: { kind } }));
  }

  onCheckpoint(closed: Promise<void>): void {
    void closed.then(() => this.resolve());
  }

  onInitError(errorType: string | undefined, body: Buffer): void {
    this.fail(`The function's initialization failed (${errorType ?? 'Runtime.Unknown'}): ${body.toString().slice(0, 512)}`);
  }

  onRestoreError(errorType: string | undefined, body: Buffer): void {
    this.onInitError(errorType, body);
  }

  onNext(_deliver: (inv: NextInvocation) => void): void {
    this.fail('The runtime asked for an invocation without a checkpoint', 'platform');
  }

  onRestoreNext(): void {
    this.fail('The runtime asked to be restored before its checkpoint', 'platform');
  }

  onSpecialization(): void {}
  onResponse(): 'unknown-request' {
    return 'unknown-request';
  }
  onResponseStream(_id: string, _r: StreamedResponse): 'unknown-request' {
    return 'unknown-request';
  }
  onError(): 'unknown-request' {
    return 'unknown-request';
  }
}

/** A snapshot directory as one tar (what the code store keeps), and its digest. */
export async function packSnapshot(dir: string): Promise<{ tar: Buffer; sha256: string }> {
  const { stdout } = await run('tar', ['-C', dir, '--exclude', './dump.log', '-cf', '-', '.'], { encoding: 'buffer', maxBuffer: 8 * 1024 * 1024 * 1024 });
  return { tar: stdout, sha256: createHash('sha256').update(stdout).digest('hex') };
}

/** Whose snapshot it is: written into the snapshot when it is made, checked before a clone is restored from it. */
export interface SnapshotOwner {
  accountId: string;
  functionName: string;
}

const OWNER_FILE = 'stratus-owner.json';

/** Records in a dump directory whose function it is (it goes into the tar, so into the digest). */
export async function writeSnapshotOwner(dir: string, owner: SnapshotOwner): Promise<void> {
  await writeFile(join(dir, OWNER_FILE), JSON.stringify({ accountId: owner.accountId, functionName: owner.functionName }));
}

/** Chunks of one snapshot fetched at once. */
const PARALLEL_CHUNKS = 4;

/**
 * Snapshots unpacked once per account and digest under `<root>/<accountId>/<sha256>/`, from the
 * code store when absent: a chunked snapshot (the manifest `sha256:<digest>`) chunk by chunk
 * through the worker's `ChunkCache` (its local cache, then the code store: the path of a lazy
 * image's chunks), then the whole tar is checked against its digest before it is unpacked. A snapshot holds its function's memory (its variables, whatever its
 * init computed), so it is restored only for the function it was made of: a spec that names
 * another account's or function's snapshot gets SnapshotFailed (the cold start boots instead),
 * and nothing of it is kept under the asking account. Each unpacked snapshot is an entry of the
 * worker's `CacheLeases`, held by the environments restored from it, deleted once idle.
 */
export class SnapshotCache {
  private readonly dirs: DigestDirs;
  private readonly entries: LeasedEntries<string>;

  constructor(root: string, private readonly store: CodeSource, caches: CacheLeases, private readonly chunks?: ChunkCache) {
    this.dirs = new DigestDirs(root, () => caches.admitWrite());
    this.entries = caches.cache('snapshots', (key) => {
      const [accountId = '', digest = ''] = key.split('/');
      return this.dirs.remove(accountId, digest);
    });
  }

  /** The unpacked snapshot, held by `leases`. */
  async resolve(owner: SnapshotOwner, image: CodeRef, leases: Leases): Promise<string> {
    const dir = await this.entries.use(`${checkedAccountId(owner.accountId)}/${image.sha256}`, leases, async () => {
      const dir = await this.dirs.get(owner.accountId, image.sha256, async (dir) => {
        const tar = await this.fetch(owner.accountId, image);
        await new Promise<void>((resolve, reject) => {
          const child = execFile('tar', ['-C', dir, '-xf', '-'], (err) => (err ? reject(err) : resolve()));
          child.stdin?.end(tar);
        });
        await checkOwner(dir, owner, image);
      });
      return { value: dir, bytes: await bytesUnder(dir) };
    });
    await checkOwner(dir, owner, image);
    return dir;
  }

  /**
   * The snapshot's tar: from its chunks if it is stored chunked, else as one code-store blob.
   * Either way its bytes must have the digest the spec names: a tampered chunk (the chunk cache
   * refuses one that does not match its own name) or a tampered cached copy is refused.
   */
  private async fetch(accountId: string, image: CodeRef): Promise<Buffer> {
    const manifest = this.chunks ? await this.store.getImage(chunkedBlobDigest(image.sha256)) : undefined;
    let tar: Buffer;
    if (manifest && this.chunks) {
      const chunks = this.chunks;
      const parts: Buffer[] = new Array<Buffer>(manifest.chunks.length);
      for (let start = 0; start < parts.length; start += PARALLEL_CHUNKS) {
        await Promise.all(manifest.chunks.slice(start, start + PARALLEL_CHUNKS).map(async (sha, i) => (parts[start + i] = await chunks.get(accountId, sha))));
      }
      tar = Buffer.concat(parts);
    } else {
      tar = await this.store.get(image);
    }
    if (tar.length !== image.size || createHash('sha256').update(tar).digest('hex') !== image.sha256) {
      throw new StratusError('SnapshotFailed', `Snapshot ${image.sha256} does not match its digest: refused`, { details: { kind: 'platform' } });
    }
    return tar;
  }

  /** Adopts a freshly dumped directory as the account's unpacked copy of `sha256` (no unpacking needed); unused until restored from. */
  async adopt(dir: string, accountId: string, sha256: string): Promise<void> {
    const held = new Leases();
    try {
      await this.entries.use(`${checkedAccountId(accountId)}/${sha256}`, held, async () => {
        await this.dirs.adopt(dir, accountId, sha256);
        const target = join(accountDir(this.dirs.root, accountId), sha256);
        return { value: target, bytes: await bytesUnder(target) };
      });
    } finally {
      held.releaseAll();
      // Kept already: the dump is dropped.
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** A fresh directory to dump into, on the same file system as the cache. */
  scratch(): Promise<string> {
    return this.dirs.scratch('dump', 0o700);
  }

  /**
   * Removes what a killed predecessor left half-made (dumps, unpacks), and snapshots of an older
   * layout (not kept per account); the snapshots it left are kept as unused entries.
   */
  async removeScratch(): Promise<void> {
    await this.dirs.removeScratch();
    for (const { key, dir } of await this.dirs.list()) this.entries.adopt(key, await bytesUnder(dir));
  }
}

/** The bytes of the files under `dir` (a snapshot's dump: files, no mounts). */
async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (entry.isFile()) total += await sizeOf(join(entry.parentPath, entry.name));
  }
  return total;
}

async function checkOwner(dir: string, owner: SnapshotOwner, image: CodeRef): Promise<void> {
  const recorded = await readFile(join(dir, OWNER_FILE), 'utf8').then((text) => JSON.parse(text) as Partial<SnapshotOwner>, () => undefined);
  if (recorded?.accountId !== owner.accountId || recorded.functionName !== owner.functionName) {
    throw new StratusError('SnapshotFailed', `Snapshot ${image.sha256} was not made of function ${owner.functionName} of account ${owner.accountId}`, { details: { kind: 'platform' } });
  }
}
