import { createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import yazl from 'yazl';
import { holdGc } from '../codestore/index.js';
import { snapshotSqlite, sqliteJournalDocuments } from '../journal/index.js';
import type { Clock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import {
  CREDENTIALS_MEMBER, FORMAT_VERSION, JOURNAL_MEMBER, LOGS_MEMBER, MANIFEST_NAME, namedDigest, referencedMembers, SEAL_PLACEHOLDER, sealArchive, sha256File, stratusVersion,
  stopIfAsked, type BackupManifest, type BackupMember,
} from './backup-archive.js';
import { readArchive, restore } from './restore.js';

export const BACKUP_USAGE = `  stratus backup FILE  [--data-dir .stratus]            (an online backup of stratus up's data directory, mode 0600)
  stratus restore FILE [--data-dir .stratus] [--force]  (into a new or empty data directory; --force replaces one)`;

/** How long a backup's hold on code collection lasts unless renewed (it renews itself until released). */
const HOLD_MS = 10 * 60_000;

export interface BackupSummary {
  file: string;
  members: number;
  bytes: number;
  referenced: number;
}

interface Source extends BackupMember {
  path: string;
}

/**
 * `stratus backup FILE`: an online backup of a single machine's data directory, while `stratus
 * up` serves. Order matters: a hold on code collection first, then a consistent snapshot of each
 * database (SQLite's online backup), then the blobs, which are content-addressed and never
 * rewritten: every one present (the ones the journal snapshot references among them). The archive
 * is then read back whole, and the backup fails unless it holds every referenced blob. It is
 * written beside FILE with mode 0600 (it holds every secret of the installation) and renamed
 * into place once complete.
 */
export async function backup(dataDirGiven: string, fileGiven: string, clock: Clock, signal?: AbortSignal): Promise<BackupSummary> {
  const dataDir = resolve(dataDirGiven);
  const file = resolve(fileGiven);
  if (!existsSync(join(dataDir, JOURNAL_MEMBER))) {
    throw new StratusError('ResourceNotFound', `${dataDir} holds no journal.db: not the data directory of stratus up (a cluster's state is in etcd, see docs/storage-lifecycle.md)`);
  }
  const staging = await mkdtemp(join(dirname(file), '.stratus-backup-'));
  const hold = await holdGc(dataDir, clock, HOLD_MS);
  try {
    await snapshotSqlite(join(dataDir, JOURNAL_MEMBER), join(staging, JOURNAL_MEMBER));
    if (existsSync(join(dataDir, LOGS_MEMBER))) await snapshotSqlite(join(dataDir, LOGS_MEMBER), join(staging, LOGS_MEMBER));
    stopIfAsked(signal);
    const referenced = await referencedMembers(sqliteJournalDocuments(join(staging, JOURNAL_MEMBER)), dataDir);
    const sources = await hashSources(await stateFiles(dataDir, staging), referenced, signal);
    const missing = [...referenced].filter((name) => !sources.some((s) => s.name === name));
    if (missing.length > 0) throw notCopied(missing);
    const manifest: BackupManifest = {
      format: 'stratus-backup', formatVersion: FORMAT_VERSION, stratusVersion: await stratusVersion(), createdAt: new Date(clock.now()).toISOString(),
      members: sources.map(({ name, size, sha256 }) => ({ name, size, sha256 })),
    };
    const partial = join(staging, 'archive.zip');
    stopIfAsked(signal);
    await writeArchive(partial, manifest, sources, clock, signal).catch((err: unknown) => {
      stopIfAsked(signal); // the copy aborted by the signal
      throw err;
    });
    stopIfAsked(signal);
    const read = await readArchive(partial, async () => undefined);
    const unread = [...referenced].filter((name) => !read.members.some((m) => m.name === name));
    if (unread.length > 0) throw notCopied(unread);
    await chmod(partial, 0o600);
    stopIfAsked(signal);
    await rename(partial, file);
    return { file, members: sources.length, bytes: sources.reduce((n, s) => n + s.size, 0), referenced: referenced.size };
  } finally {
    await hold.release();
    await rm(staging, { recursive: true, force: true });
  }
}

/** The state files of the data directory: the two snapshots (in staging), the generated key pair, and every blob present. */
async function stateFiles(dataDir: string, staging: string): Promise<{ name: string; path: string }[]> {
  const files = [JOURNAL_MEMBER, LOGS_MEMBER].filter((n) => existsSync(join(staging, n))).map((name) => ({ name, path: join(staging, name) }));
  if (existsSync(join(dataDir, CREDENTIALS_MEMBER))) files.push({ name: CREDENTIALS_MEMBER, path: join(dataDir, CREDENTIALS_MEMBER) });
  const list = async (rel: string, keep: (n: string) => boolean) =>
    (await readdir(join(dataDir, rel)).catch(() => [] as string[])).filter(keep).map((n) => `${rel}/${n}`);
  const hex = (n: string) => /^[0-9a-f]{64}$/.test(n);
  const names = [...(await list('code/sha256', hex)), ...(await list('code/images', (n) => /^[0-9a-f]{64}\.json$/.test(n)))];
  for (const sub of await list('code/chunks', (n) => /^[0-9a-f]{2}$/.test(n))) names.push(...(await list(sub, hex)));
  for (const name of names.sort()) files.push({ name, path: join(dataDir, name) });
  return files;
}

/**
 * Each file's size and sha256. A blob that is gone by now is left out unless the snapshot
 * references it (the collector honours the hold, so that is a damaged data directory: the
 * backup fails). A content-addressed blob whose bytes are not its name is damaged: it fails too.
 */
async function hashSources(files: { name: string; path: string }[], referenced: Set<string>, signal?: AbortSignal): Promise<Source[]> {
  const out: Source[] = [];
  for (const f of files) {
    stopIfAsked(signal);
    const hashed = await sha256File(f.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && !referenced.has(f.name)) return undefined;
      throw err.code === 'ENOENT' ? notCopied([f.name]) : err;
    });
    if (!hashed) continue;
    const named = namedDigest(f.name);
    if (named !== undefined && named !== hashed.sha256) throw new StratusError('Internal', `${f.path} does not hold the bytes its name (their sha256) says: the code store is damaged`);
    out.push({ ...f, ...hashed });
  }
  return out;
}

/** The archive: the manifest first, then every member (compressed), written with mode 0600, then sealed. */
async function writeArchive(path: string, manifest: BackupManifest, sources: Source[], clock: Clock, signal?: AbortSignal): Promise<void> {
  const zip = new yazl.ZipFile();
  // A member that cannot be read (gone, unreadable) fails the copy instead of the process.
  zip.on('error', (err: Error) => (zip.outputStream as Readable).destroy(err));
  const mtime = new Date(clock.now());
  zip.addBuffer(Buffer.from(JSON.stringify(manifest, null, 1)), MANIFEST_NAME, { mtime, mode: 0o100600 });
  for (const s of sources) zip.addFile(s.path, s.name, { mtime, mode: 0o100600, compress: true });
  zip.end({ comment: SEAL_PLACEHOLDER, forceZip64Format: false });
  await pipeline(zip.outputStream, createWriteStream(path, { flags: 'wx', mode: 0o600 }), { signal });
  await sealArchive(path);
}

function notCopied(names: string[]): StratusError {
  return new StratusError('ResourceNotFound', `the backup is incomplete: the journal references ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''}, not in the data directory any more; nothing was written`);
}

/** `stratus backup FILE [--data-dir DIR]` and `stratus restore FILE [--data-dir DIR] [--force]`. */
export async function backupCommand(command: 'backup' | 'restore', args: string[], clock: Clock, signal?: AbortSignal): Promise<string> {
  const { values, positionals } = parseArgs({ args, options: { 'data-dir': { type: 'string' }, force: { type: 'boolean' } }, allowPositionals: true });
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) throw new StratusError('InvalidParameterValue', `stratus ${command} needs one FILE:\n${BACKUP_USAGE}`);
  const dataDir = values['data-dir'] ?? '.stratus';
  if (command === 'backup') {
    if (values.force) throw new StratusError('InvalidParameterValue', '--force is for stratus restore');
    const s = await backup(dataDir, file, clock, signal);
    return `Backed up ${resolve(dataDir)} to ${s.file}: ${s.members} files, ${s.bytes} bytes (${s.referenced} blobs the journal references). It holds every secret of the installation: keep it like one.`;
  }
  const manifest = await restore(file, dataDir, values.force === true, signal);
  return `Restored the backup of ${manifest.createdAt} (Stratus ${manifest.stratusVersion}, ${manifest.members.length} files) into ${resolve(dataDir)}. Start it with: npx stratus up --data-dir ${resolve(dataDir)}`;
}
