import { createWriteStream } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, posix, sep } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
  /** A symbolic link's target (relative, inside the package). */
  linkTarget?: string;
  mode: number;
  open(): Promise<Readable>;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
/** The longest symbolic link target read (Linux's PATH_MAX). */
const MAX_LINK_TARGET = 4096;

/**
 * Validates a function (or layer) package completely without writing anything, so an accepted
 * package always unpacks: every entry's bytes are read (a size its header misstates is refused),
 * no entry escapes the package, none repeats or lies under a file or a symbolic link, and a
 * symbolic link points inside the package. Bombs stop at the unzipped limit.
 */
export async function inspectZip(bytes: Buffer, limits: ZipLimits): Promise<ZipSummary> {
  const summary: ZipSummary = { files: 0, unzippedBytes: 0 };
  await walkZip(bytes, limits, async (entry) => {
    if (entry.isDirectory) return;
    summary.files++;
    if (entry.linkTarget === undefined) await pipeline(await entry.open(), discard()).catch((err: Error) => Promise.reject(invalidZip(err.message)));
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
    if (entry.linkTarget !== undefined) await symlink(entry.linkTarget, dest);
    else await pipeline(await entry.open(), createWriteStream(dest, { flags: 'wx', mode: entry.mode }));
  });
}

async function walkZip(
  bytes: Buffer,
  limits: ZipLimits,
  onEntry: (e: CheckedEntry) => Promise<void>,
  summary: ZipSummary = { files: 0, unzippedBytes: 0 },
): Promise<void> {
  const zip = await openZip(bytes);
  const tree = new PackageTree();
  try {
    for (let entry = await nextEntry(zip); entry; entry = await nextEntry(zip)) {
      const { checked, isLink } = checkEntry(zip, entry);
      summary.unzippedBytes += entry.uncompressedSize;
      if (summary.unzippedBytes > limits.maxUnzippedBytes) {
        throw new StratusError('InvalidParameterValue', `Unzipped size must be smaller than ${limits.maxUnzippedBytes} bytes`);
      }
      if (isLink) checked.linkTarget = await linkTarget(checked);
      tree.add(checked);
      await onEntry(checked);
    }
  } finally {
    zip.close();
  }
}

/**
 * What a package's entries make, so that each lands where nothing else is: an entry may not
 * repeat a file or a link, nor sit under a file or a symbolic link (unpacking it would write
 * through the link); directories may repeat.
 */
class PackageTree {
  private readonly kinds = new Map<string, 'file' | 'dir' | 'link'>();

  add(e: CheckedEntry): void {
    const parts = e.path.split(sep).filter((p) => p !== '');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const kind = this.kinds.get(parent);
      if (kind === 'file') throw invalidZip(`the entry '${e.path}' is under the file '${parent}'`);
      if (kind === 'link') throw invalidZip(`the entry '${e.path}' is under the symbolic link '${parent}'`);
      this.kinds.set(parent, 'dir');
    }
    const path = parts.join('/');
    const kind = e.isDirectory ? 'dir' : e.linkTarget !== undefined ? 'link' : 'file';
    const before = this.kinds.get(path);
    if (before !== undefined && (before !== 'dir' || kind !== 'dir')) throw invalidZip(`the entry '${e.path}' appears twice`);
    this.kinds.set(path, kind);
  }
}

/** A symbolic link's target, refused unless it stays inside the package (relative, never above its root). */
async function linkTarget(e: CheckedEntry): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of await e.open()) {
    size += (chunk as Buffer).length;
    if (size > MAX_LINK_TARGET) throw invalidZip(`the symbolic link '${e.path}' has a target over ${MAX_LINK_TARGET} bytes`);
    chunks.push(chunk as Buffer);
  }
  const target = Buffer.concat(chunks).toString('utf8');
  const resolved = posix.normalize(posix.join(posix.dirname(e.path), target));
  if (target === '' || target.includes('\\') || target.includes('\0') || posix.isAbsolute(target) || resolved === '..' || resolved.startsWith('../')) {
    throw invalidZip(`the symbolic link '${e.path}' points outside the package (to '${target}')`);
  }
  return target;
}

/** A sink that reads a stream to its end (yauzl checks its size) and keeps nothing. */
function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}

function checkEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): { checked: CheckedEntry; isLink: boolean } {
  const name = entry.fileName;
  const unixMode = (entry.externalFileAttributes >>> 16) & 0xffff;
  const path = normalize(name);
  if (isAbsolute(name) || path.startsWith(`..${sep}`) || path === '..' || name.includes('\\')) {
    throw invalidZip(`the entry '${name}' points outside the package`);
  }
  const isDirectory = name.endsWith('/');
  const executable = (unixMode & 0o111) !== 0;
  return {
    isLink: !isDirectory && (unixMode & S_IFMT) === S_IFLNK,
    checked: {
      path,
      isDirectory,
      mode: executable ? 0o755 : 0o644,
      open: () =>
        new Promise((resolve, reject) =>
          zip.openReadStream(entry, (err, stream) => (err ? reject(invalidZip(err.message)) : resolve(stream))),
        ),
    },
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
