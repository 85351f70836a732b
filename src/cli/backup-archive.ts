import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FilesystemChunkStore } from '../codestore/index.js';
import { markReferences } from '../collector/index.js';
import type { StoredDocument } from '../journal/index.js';
import { StratusError } from '../shared/errors.js';

/**
 * The backup archive of a single machine's data directory (`stratus backup`, `stratus restore`):
 * one zip whose first entry is a manifest (`stratus-backup.json`: format version, Stratus version,
 * creation time, and the size and sha256 of every other entry), then one entry per member.
 *
 * What a data directory holds, and what of it is state (backed up):
 * - `journal.db`: the SQLite journal (functions, versions, aliases, URLs, layers, accounts and
 *   access keys, schedules, the event queue, the cluster CA and installation secrets, worker
 *   credentials), snapshotted with SQLite's online backup;
 * - `journal-logs.db`: the stored function logs, snapshotted the same way;
 * - `credentials.json`: the administrator's key pair when `stratus up` generated it;
 * - `code/sha256/<hex>` (function and layer zips, SnapStart snapshot tars), `code/chunks/<ab>/<hex>`
 *   and `code/images/<hex>.json` (container images): content-addressed, never rewritten.
 * Everything else is rebuilt from those: `worker/` (mounted code, layer and image caches,
 * snapshots unpacked for restore, CRIU and gVisor state), `image-builds/` (an import's scratch),
 * `gc-hold/`, interrupted writes (`.tmp-*`) and SQLite's `-wal`/`-shm` files (the snapshots fold
 * them in).
 */
export const MANIFEST_NAME = 'stratus-backup.json';
export const FORMAT_VERSION = 1;
export const JOURNAL_MEMBER = 'journal.db';
export const LOGS_MEMBER = 'journal-logs.db';
export const CREDENTIALS_MEMBER = 'credentials.json';
/** The longest manifest read (a member line is ~150 bytes: a few hundred thousand blobs). */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

export interface BackupMember {
  /** The path under the data directory, `/`-separated (one of the names `isMemberName` accepts). */
  name: string;
  size: number;
  sha256: string;
}

export interface BackupManifest {
  format: 'stratus-backup';
  formatVersion: number;
  stratusVersion: string;
  /** ISO 8601. */
  createdAt: string;
  members: BackupMember[];
}

const HEX64 = '[0-9a-f]{64}';
const MEMBER_NAME = new RegExp(
  `^(?:journal\\.db|journal-logs\\.db|credentials\\.json|code/sha256/${HEX64}|code/chunks/([0-9a-f]{2})/(${HEX64})|code/images/${HEX64}\\.json)$`,
);

/**
 * Only the names a data directory's state has: no absolute path, no `..`, nothing outside these
 * folders, so a hostile archive cannot name a place outside the directory it is restored into.
 */
export function isMemberName(name: string): boolean {
  const m = MEMBER_NAME.exec(name);
  return m !== null && (m[1] === undefined || m[2]?.startsWith(m[1]) === true);
}

/** The sha256 a content-addressed member's name says its bytes have (code blobs and chunks). */
export function namedDigest(name: string): string | undefined {
  return /^code\/(?:sha256|chunks\/[0-9a-f]{2})\/([0-9a-f]{64})$/.exec(name)?.[1];
}

export const codeBlobMember = (sha256: string) => `code/sha256/${sha256}`;
export const chunkMember = (sha256: string) => `code/chunks/${sha256.slice(0, 2)}/${sha256}`;
export const imageMember = (digest: string) => `code/images/${digest.slice('sha256:'.length)}.json`;

/** The version in Stratus's package.json (dist/src/cli → the repository's root). */
export async function stratusVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

export async function sha256File(path: string, end?: number): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, end === undefined ? {} : { start: 0, end: end - 1 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * The archive's seal: the zip's comment (its last bytes) ends with the sha256 of every byte
 * before that digest, so any change anywhere in the file (in an entry, in the zip's own
 * structures, in the comment) is found before anything is unpacked.
 */
const SEAL_PREFIX = 'stratus-backup-sha256:';
export const SEAL_PLACEHOLDER = `${SEAL_PREFIX}${'0'.repeat(64)}`;
const EOCD_SIZE = 22;

/** Writes the seal over the placeholder comment of a finished archive. */
export async function sealArchive(path: string): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const { size } = await file.stat();
    const { sha256 } = await sha256File(path, size - 64);
    await file.write(Buffer.from(sha256), 0, 64, size - 64);
    await file.sync();
  } finally {
    await file.close();
  }
}

/** Checks an archive's seal: the comment where `sealArchive` put it, and the digest of what precedes it. */
export async function checkSeal(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const tail = Buffer.alloc(EOCD_SIZE + SEAL_PLACEHOLDER.length);
    if (size < tail.length) return false;
    await file.read(tail, 0, tail.length, size - tail.length);
    const comment = tail.subarray(EOCD_SIZE).toString('latin1');
    if (tail.readUInt32LE(0) !== 0x06054b50 || tail.readUInt16LE(20) !== SEAL_PLACEHOLDER.length || !comment.startsWith(SEAL_PREFIX)) return false;
    return (await sha256File(path, size - 64)).sha256 === comment.slice(SEAL_PREFIX.length);
  } finally {
    await file.close();
  }
}

/** The manifest entry of an archive, checked: a format this Stratus reads, and only state names, each once. */
export function parseManifest(bytes: Buffer): BackupManifest {
  let m: Partial<BackupManifest>;
  try {
    m = JSON.parse(bytes.toString('utf8')) as Partial<BackupManifest>;
  } catch (cause) {
    throw new StratusError('InvalidParameterValue', 'not a Stratus backup: its manifest is not JSON', { cause });
  }
  if (m.format !== 'stratus-backup') throw new StratusError('InvalidParameterValue', 'not a Stratus backup (no stratus-backup manifest)');
  if (m.formatVersion !== FORMAT_VERSION) {
    throw new StratusError('InvalidParameterValue', `backup format ${String(m.formatVersion)} is not the one this Stratus reads (${FORMAT_VERSION})`);
  }
  if (!Array.isArray(m.members)) throw new StratusError('InvalidParameterValue', 'the backup manifest lists no members');
  const seen = new Set<string>();
  for (const member of m.members as unknown[]) {
    const { name, size, sha256 } = (member ?? {}) as Partial<BackupMember>;
    if (typeof name !== 'string' || !isMemberName(name)) throw new StratusError('InvalidParameterValue', `the backup manifest names ${JSON.stringify(name)}, which is no part of a data directory`);
    if (seen.has(name)) throw new StratusError('InvalidParameterValue', `the backup manifest lists ${name} twice`);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) {
      throw new StratusError('InvalidParameterValue', `the backup manifest's entry for ${name} has no valid size and sha256`);
    }
    seen.add(name);
  }
  if (!seen.has(JOURNAL_MEMBER)) throw new StratusError('InvalidParameterValue', 'the backup holds no journal.db');
  return m as BackupManifest;
}

/**
 * The members a journal's documents reference (the blobs a restored installation needs), as the
 * code collector marks them (`markReferences`): zips of functions, versions and layers, SnapStart
 * snapshots, and every container image's manifest and chunks (read from `dataDir`).
 */
export async function referencedMembers(documents: Map<string, StoredDocument[]>, dataDir: string): Promise<Set<string>> {
  const of = (collection: string) => ({ list: async () => documents.get(collection) ?? [] });
  const refs = await markReferences({ functions: of('functions'), versions: of('versions'), layers: of('layers') });
  const wanted = new Set([...refs.code].map(codeBlobMember));
  const chunks = new FilesystemChunkStore(join(dataDir, 'code'));
  for (const digest of refs.images) {
    wanted.add(imageMember(digest));
    for (const chunk of (await chunks.getImage(digest))?.chunks ?? []) wanted.add(chunkMember(chunk));
  }
  return wanted;
}

/** A signal (SIGINT, SIGTERM) asked the command to stop: it stops at the next step, and its `finally` removes what it staged. */
export function stopIfAsked(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new StratusError('InvalidParameterValue', 'stopped by a signal: nothing was written');
}
