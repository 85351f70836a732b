import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { checkSqliteFile } from '../journal/index.js';
import { StratusError } from '../shared/errors.js';
import {
  checkSeal, isMemberName, JOURNAL_MEMBER, LOGS_MEMBER, MANIFEST_NAME, MAX_MANIFEST_BYTES, namedDigest, parseManifest, stopIfAsked, type BackupManifest, type BackupMember,
} from './backup-archive.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

/** Where a member's bytes go (a new file), or undefined to read and check them only. */
export type MemberSink = (member: BackupMember) => Promise<Writable | undefined>;

/**
 * Reads a backup archive through, checking it whole: its seal over every byte first, the manifest next, then every entry a
 * regular file named as a data directory's state (no absolute path, no `..`, no link, no
 * directory), listed in the manifest, once, with the manifest's size and sha256 (and, for a
 * content-addressed blob, the sha256 its name says). Any difference refuses the archive.
 */
export async function readArchive(file: string, sink: MemberSink): Promise<BackupManifest> {
  const sealed = await checkSeal(file).catch((err: unknown) => {
    throw refused(`it cannot be read (${err instanceof Error ? err.message : String(err)})`);
  });
  if (!sealed) throw refused('its seal (the sha256 of the whole file, at its end) does not match: the archive is damaged, cut short or was altered');
  const zip = await openArchive(file);
  try {
    const first = await nextEntry(zip);
    if (!first || first.name !== MANIFEST_NAME || first.entry.uncompressedSize > MAX_MANIFEST_BYTES) {
      throw refused(`its first entry is not the manifest ${MANIFEST_NAME}`);
    }
    const manifest = await readWhole(zip, first.entry).then(parseManifest).catch((err: unknown) => {
      throw err instanceof StratusError && !err.message.startsWith('refusing') ? refused(err.message) : err;
    });
    const expected = new Map(manifest.members.map((m) => [m.name, m]));
    for (let next = await nextEntry(zip); next; next = await nextEntry(zip)) {
      const { name, entry } = next;
      const member = expected.get(name);
      if (!isMemberName(name) || member === undefined) throw refused(`the entry ${JSON.stringify(name)} is no part of a data directory or not in the manifest`);
      const kind = (entry.externalFileAttributes >>> 16) & S_IFMT;
      if (kind !== 0 && kind !== S_IFREG) throw refused(`the entry ${name} is a link or special file, not a regular file`);
      if (entry.uncompressedSize !== member.size) throw refused(`the entry ${name} has ${entry.uncompressedSize} bytes, the manifest says ${member.size}`);
      expected.delete(name);
      const hash = createHash('sha256');
      const tap = new Transform({ transform: (chunk: Buffer, _enc, done) => (hash.update(chunk), done(null, chunk)) });
      const source = await openEntry(zip, entry);
      await pipeline(source, tap, (await sink(member)) ?? discard()).catch((err: unknown) => {
        throw err instanceof StratusError ? err : refused(`the entry ${name} cannot be read (${err instanceof Error ? err.message : String(err)})`);
      });
      const digest = hash.digest('hex');
      if (digest !== member.sha256 || (namedDigest(name) ?? digest) !== digest) throw refused(`the entry ${name} does not have the sha256 the manifest (or its name) gives: the archive is damaged or was altered`);
    }
    if (expected.size > 0) throw refused(`the manifest lists ${[...expected.keys()].slice(0, 3).join(', ')}${expected.size > 3 ? '…' : ''}, missing from the archive`);
    return manifest;
  } finally {
    zip.close();
  }
}

/**
 * `stratus restore FILE --data-dir DIR`: the archive, checked whole, into a staging directory
 * inside DIR (so DIR may be a file system of its own, a mount point), and moved into place once
 * complete, `journal.db` last, so a refused archive leaves DIR as it was. An existing DIR with
 * anything in it is refused unless `force` (then what it held is replaced).
 */
export async function restore(file: string, dataDir: string, force: boolean, signal?: AbortSignal): Promise<BackupManifest> {
  const target = resolve(dataDir);
  const state = await targetState(target);
  if (state === 'not-a-directory') throw new StratusError('ResourceConflict', `${target} exists and is not a directory`);
  if (state === 'non-empty' && !force) {
    throw new StratusError('ResourceConflict', `${target} is not empty: restore does not overwrite an existing data directory (stop Stratus on it and pass --force to replace it)`);
  }
  await mkdir(target, { recursive: true, mode: 0o700 });
  const temp = await mkdtemp(join(target, '.restore-'));
  try {
    await chmod(temp, 0o700);
    const manifest = await readArchive(file, async (member) => {
      stopIfAsked(signal);
      const dest = join(temp, member.name);
      if (!dest.startsWith(temp + sep)) throw refused(`the entry ${member.name} would land outside ${target}`);
      await mkdir(dirname(dest), { recursive: true, mode: 0o700 });
      return createWriteStream(dest, { flags: 'wx', mode: 0o600 });
    });
    checkSqliteFile(join(temp, JOURNAL_MEMBER));
    if (manifest.members.some((m) => m.name === LOGS_MEMBER)) checkSqliteFile(join(temp, LOGS_MEMBER));
    // Once the move has begun it runs to its end: a signal then waits for it (the command's handler keeps the process alive).
    stopIfAsked(signal);
    await moveIntoPlace(temp, target);
    return manifest;
  } catch (err) {
    if (state === 'absent') await rm(target, { recursive: true, force: true });
    throw err;
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

type TargetState = 'absent' | 'empty' | 'non-empty' | 'not-a-directory';

async function targetState(target: string): Promise<TargetState> {
  const st = await lstat(target).catch(() => undefined);
  if (!st) return 'absent';
  if (!st.isDirectory()) return 'not-a-directory';
  return (await readdir(target)).length === 0 ? 'empty' : 'non-empty';
}

/**
 * What `target` held (but the staging directory) goes aside, the restored entries are renamed
 * up into it, the journal last (a directory without it is no installation yet), and what was
 * aside is removed. Every rename stays within the target's file system.
 */
async function moveIntoPlace(temp: string, target: string): Promise<void> {
  const aside = await mkdtemp(join(target, '.replaced-'));
  for (const name of await readdir(target)) {
    if (join(target, name) !== temp && join(target, name) !== aside) await rename(join(target, name), join(aside, name));
  }
  const restored = (await readdir(temp)).sort((a, b) => Number(a === JOURNAL_MEMBER) - Number(b === JOURNAL_MEMBER));
  for (const name of restored) await rename(join(temp, name), join(target, name));
  await rm(aside, { recursive: true, force: true });
}

function refused(reason: string): StratusError {
  return new StratusError('InvalidParameterValue', `refusing the backup archive: ${reason}`);
}

function openArchive(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolvePromise, reject) => {
    yauzl.open(file, { lazyEntries: true, validateEntrySizes: true, decodeStrings: false, autoClose: false }, (err, zip) =>
      err || !zip ? reject(refused(`it is not a readable archive (${err?.message ?? 'no entries'})`)) : resolvePromise(zip),
    );
  });
}

function nextEntry(zip: yauzl.ZipFile): Promise<{ name: string; entry: yauzl.Entry } | undefined> {
  return new Promise((resolvePromise, reject) => {
    const cleanup = () => zip.removeAllListeners('entry').removeAllListeners('end').removeAllListeners('error');
    zip.once('entry', (entry: yauzl.Entry) => {
      cleanup();
      const raw = entry.fileName as unknown;
      resolvePromise({ name: Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw), entry });
    });
    zip.once('end', () => (cleanup(), resolvePromise(undefined)));
    zip.once('error', (err: Error) => (cleanup(), reject(refused(err.message))));
    zip.readEntry();
  });
}

function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((resolvePromise, reject) =>
    zip.openReadStream(entry, (err, stream) => (err || !stream ? reject(refused(err?.message ?? 'unreadable entry')) : resolvePromise(stream))),
  );
}

async function readWhole(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of await openEntry(zip, entry)) chunks.push(chunk as Buffer);
  } catch (err) {
    throw err instanceof StratusError ? err : refused(`its manifest cannot be read (${err instanceof Error ? err.message : String(err)})`);
  }
  return Buffer.concat(chunks);
}

function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}
