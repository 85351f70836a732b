import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import type { CodeRef } from '../codestore/index.js';
import { StratusError } from '../shared/errors.js';
import { DigestDirs, type CodeSource } from './code-cache.js';
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

/** Snapshots unpacked once per digest under `<root>/<sha256>/`, from the code store when absent. */
export class SnapshotCache {
  private readonly dirs: DigestDirs;

  constructor(root: string, private readonly store: CodeSource) {
    this.dirs = new DigestDirs(root);
  }

  resolve(image: CodeRef): Promise<string> {
    return this.dirs.get(image.sha256, async (dir) => {
      const tar = await this.store.get(image);
      await new Promise<void>((resolve, reject) => {
        const child = execFile('tar', ['-C', dir, '-xf', '-'], (err) => (err ? reject(err) : resolve()));
        child.stdin?.end(tar);
      });
    });
  }

  /** Adopts a freshly dumped directory as the unpacked copy of `sha256` (no unpacking needed). */
  adopt(dir: string, sha256: string): Promise<void> {
    return this.dirs.adopt(dir, sha256);
  }

  /** A fresh directory to dump into, on the same file system as the cache. */
  scratch(): Promise<string> {
    return this.dirs.scratch('dump', 0o700);
  }

  /** Removes what a killed predecessor left half-made (dumps, unpacks). */
  removeScratch(): Promise<void> {
    return this.dirs.removeScratch();
  }
}
