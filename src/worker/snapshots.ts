import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CodeRef } from '../codestore/index.js';
import { StratusError } from '../shared/errors.js';
import type { CodeSource } from './code-cache.js';
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
    this.fail('The runtime asked for an invocation without a checkpoint');
  }

  onRestoreNext(): void {
    this.fail('The runtime asked to be restored before its checkpoint');
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

/** Snapshots unpacked once per digest under `<root>/<sha256>/`, from the code store when absent. */
export class SnapshotCache {
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(readonly root: string, private readonly store: CodeSource) {}

  resolve(image: CodeRef): Promise<string> {
    let dir = this.inflight.get(image.sha256);
    if (!dir) {
      dir = this.unpack(image);
      this.inflight.set(image.sha256, dir);
      dir.catch(() => this.inflight.delete(image.sha256));
    }
    return dir;
  }

  /** Adopts a freshly dumped directory as the unpacked copy of `sha256` (no unpacking needed). */
  async adopt(dir: string, sha256: string): Promise<void> {
    const target = join(this.root, sha256);
    if (await exists(target)) return rm(dir, { recursive: true, force: true });
    await rename(dir, target);
  }

  /** A fresh directory to dump into, on the same file system as the cache. */
  async scratch(): Promise<string> {
    const dir = join(this.root, `.dump-${randomUUID()}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  private async unpack(image: CodeRef): Promise<string> {
    const target = join(this.root, image.sha256);
    if (await exists(target)) return target;
    const tmp = await this.scratch();
    try {
      const tar = await this.store.get(image);
      await new Promise<void>((resolve, reject) => {
        const child = execFile('tar', ['-C', tmp, '-xf', '-'], (err) => (err ? reject(err) : resolve()));
        child.stdin?.end(tar);
      });
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
