// `stratus backup` and `stratus restore`, run as the real command, and what a test builds archives with.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import yauzl from 'yauzl';
import yazl from 'yazl';
import type { CliResult } from './aws-cli.js';

export const STRATUS_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Runs `stratus <args...>` (backup, restore) to its end. */
export function stratusCommand(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [STRATUS_MAIN, ...args], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

export interface ArchiveEntry {
  name: string;
  bytes: Buffer;
  /** Unix mode with its type bits (default a regular file, 0o100600). */
  mode?: number;
}

const SEAL_PREFIX = 'stratus-backup-sha256:';

/**
 * Seals an archive as `stratus backup` does (anyone can: it is a checksum, not a signature): its
 * comment, the last 86 bytes, ends with the sha256 of every byte before that digest.
 */
export function seal(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  if (out.subarray(out.length - 86, out.length - 64).toString('latin1') !== SEAL_PREFIX) throw new Error('no seal comment at the end');
  out.write(createHash('sha256').update(out.subarray(0, out.length - 64)).digest('hex'), out.length - 64, 'latin1');
  return out;
}

/** A sealed zip of `entries` in order, as yazl (with valid CRCs) writes it. */
export async function buildArchive(entries: ArchiveEntry[]): Promise<Buffer> {
  return seal(await buildZip(entries));
}

function buildZip(entries: ArchiveEntry[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) zip.addBuffer(e.bytes, e.name, { mode: e.mode ?? 0o100600 });
  zip.end({ comment: `${SEAL_PREFIX}${'0'.repeat(64)}`, forceZip64Format: false });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

/** Every entry of an archive, in order, with its bytes and mode (to rebuild it altered). */
export function archiveEntries(bytes: Buffer): Promise<ArchiveEntry[]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(bytes, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('no zip'));
      const out: ArchiveEntry[] = [];
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e ?? new Error('no stream'));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            out.push({ name: entry.fileName, bytes: Buffer.concat(chunks), mode: entry.externalFileAttributes >>> 16 });
            zip.readEntry();
          });
          stream.on('error', reject);
        });
      });
      zip.on('end', () => resolve(out));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}
