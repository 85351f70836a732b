import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, normalize, isAbsolute, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { StratusError } from '../shared/errors.js';

export interface ZipLimits {
  maxUnzippedBytes: number;
}

export interface ZipSummary {
  files: number;
  unzippedBytes: number;
}

interface CheckedEntry {
  path: string;
  isDirectory: boolean;
  mode: number;
  open(): Promise<Readable>;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/** Validates a function package without writing anything: rejects escapes, symlinks, bombs. */
export async function inspectZip(bytes: Buffer, limits: ZipLimits): Promise<ZipSummary> {
  const summary: ZipSummary = { files: 0, unzippedBytes: 0 };
  await walkZip(bytes, limits, async (entry) => {
    if (!entry.isDirectory) summary.files++;
  }, summary);
  return summary;
}

/** Unpacks a validated package into `targetDir` (which must exist and be empty). */
export async function extractZip(bytes: Buffer, targetDir: string, limits: ZipLimits): Promise<void> {
  await walkZip(bytes, limits, async (entry) => {
    const dest = join(targetDir, entry.path);
    if (entry.isDirectory) {
      await mkdir(dest, { recursive: true, mode: 0o755 });
      return;
    }
    await mkdir(dirname(dest), { recursive: true, mode: 0o755 });
    await pipeline(await entry.open(), createWriteStream(dest, { flags: 'wx', mode: entry.mode }));
  });
}

async function walkZip(
  bytes: Buffer,
  limits: ZipLimits,
  onEntry: (e: CheckedEntry) => Promise<void>,
  summary: ZipSummary = { files: 0, unzippedBytes: 0 },
): Promise<void> {
  const zip = await openZip(bytes);
  try {
    for (let entry = await nextEntry(zip); entry; entry = await nextEntry(zip)) {
      const checked = checkEntry(zip, entry);
      summary.unzippedBytes += entry.uncompressedSize;
      if (summary.unzippedBytes > limits.maxUnzippedBytes) {
        throw new StratusError('InvalidParameterValue', `Unzipped size must be smaller than ${limits.maxUnzippedBytes} bytes`);
      }
      await onEntry(checked);
    }
  } finally {
    zip.close();
  }
}

function checkEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): CheckedEntry {
  const name = entry.fileName;
  const unixMode = (entry.externalFileAttributes >>> 16) & 0xffff;
  if ((unixMode & S_IFMT) === S_IFLNK) throw invalidZip(`the entry '${name}' is a symbolic link`);
  const path = normalize(name);
  if (isAbsolute(name) || path.startsWith(`..${sep}`) || path === '..' || name.includes('\\')) {
    throw invalidZip(`the entry '${name}' points outside the package`);
  }
  const isDirectory = name.endsWith('/');
  const executable = (unixMode & 0o111) !== 0;
  return {
    path,
    isDirectory,
    mode: executable ? 0o755 : 0o644,
    open: () =>
      new Promise((resolve, reject) =>
        zip.openReadStream(entry, (err, stream) => (err ? reject(invalidZip(err.message)) : resolve(stream))),
      ),
  };
}

function openZip(bytes: Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(bytes, { lazyEntries: true, validateEntrySizes: true, decodeStrings: false }, (err, zip) =>
      err || !zip ? reject(invalidZip()) : resolve(zip),
    );
  });
}

function nextEntry(zip: yauzl.ZipFile): Promise<(yauzl.Entry & { fileName: string }) | undefined> {
  return new Promise((resolve, reject) => {
    const cleanup = () => zip.removeAllListeners('entry').removeAllListeners('end').removeAllListeners('error');
    zip.once('entry', (entry: yauzl.Entry) => {
      cleanup();
      const raw = entry.fileName as unknown;
      const fileName = Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw);
      resolve(Object.assign(entry, { fileName }));
    });
    zip.once('end', () => (cleanup(), resolve(undefined)));
    zip.once('error', (err: Error) => (cleanup(), reject(invalidZip(err.message))));
    zip.readEntry();
  });
}

const UNZIP_FAILED = 'Could not unzip uploaded file. Please check your file, then try to upload again.';

/** Lambda's exact message for an unreadable zip; a refused entry also says why. */
function invalidZip(reason?: string): StratusError {
  return new StratusError('InvalidZipFile', reason ? `${UNZIP_FAILED} (${reason})` : UNZIP_FAILED);
}
