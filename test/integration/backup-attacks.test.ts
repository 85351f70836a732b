// `stratus restore` refuses what it must, writing nothing: a data directory that is not empty
// (unless --force), an archive with one byte changed anywhere, a member whose bytes are not what
// the manifest says (in an archive resealed, with valid zip CRCs), and hostile archives whose members name a path outside the
// data directory (`../`, an absolute path) or are symbolic links. Each hostile archive is a real
// backup with one hostile change, and the same archive without it restores (so the refusal is
// the hostile change's, not something else).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { CreateFunctionCommand } from '@aws-sdk/client-lambda';
import { archiveEntries, buildArchive, seal, STRATUS_MAIN, stratusCommand, type ArchiveEntry } from '../helpers/backup.js';
import { createInput } from '../helpers/lambda-api.js';
import { startStratus } from '../helpers/stratus.js';
import { makeZip, renameEntry } from '../helpers/zip.js';

const run = promisify(execFile);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Manifest { members: { name: string; size: number; sha256: string }[] }

describe('stratus restore refuses', () => {
  let dir: string;
  let archive: Buffer;
  let entries: ArchiveEntry[];
  let n = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stratus-backup-attacks-'));
    const stratus = await startStratus();
    try {
      await stratus.lambda.send(new CreateFunctionCommand(createInput('f', await makeZip({ 'index.js': 'exports.handler = async () => 1;\n' }))));
      const r = await stratusCommand(['backup', join(dir, 'good.backup'), '--data-dir', stratus.dataDir]);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await stratus.stop();
    }
    archive = await readFile(join(dir, 'good.backup'));
    entries = await archiveEntries(archive);
    assert.equal(entries[0]?.name, 'stratus-backup.json');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** Restores `bytes` into a new directory: the command's result, and whether anything is left beside it. */
  async function restore(bytes: Buffer, extra: string[] = []) {
    const work = join(dir, `case-${n++}`);
    await mkdir(work);
    await writeFile(join(work, 'archive'), bytes);
    const target = join(work, 'data');
    const r = await stratusCommand(['restore', join(work, 'archive'), '--data-dir', target, ...extra]);
    const left = (await readdir(work)).filter((f) => f !== 'archive');
    return { ...r, target, work, left };
  }

  /** The real backup's entries with `change` applied to its manifest and members, rebuilt (valid CRCs). */
  async function rebuilt(change: (manifest: Manifest, members: ArchiveEntry[]) => void): Promise<Buffer> {
    const manifest = JSON.parse(entries[0]!.bytes.toString()) as Manifest;
    const members = entries.slice(1).map((e) => ({ ...e }));
    change(manifest, members);
    return buildArchive([{ name: 'stratus-backup.json', bytes: Buffer.from(JSON.stringify(manifest)) }, ...members]);
  }

  it('the real archive, and the same rebuilt, restore (the control for every refusal below)', async () => {
    for (const bytes of [archive, await rebuilt(() => {})]) {
      const r = await restore(bytes);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(existsSync(join(r.target, 'journal.db')));
      assert.deepEqual(r.left, ['data']);
    }
  });

  it('a data directory that is not empty, unless --force (which replaces it)', async () => {
    const work = join(dir, 'nonempty');
    await mkdir(join(work, 'data'), { recursive: true });
    await writeFile(join(work, 'data', 'keep.txt'), 'mine');
    await writeFile(join(work, 'archive'), archive);
    const r = await stratusCommand(['restore', join(work, 'archive'), '--data-dir', join(work, 'data')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /is not empty: restore does not overwrite an existing data directory/);
    assert.deepEqual(await readdir(join(work, 'data')), ['keep.txt']);
    assert.deepEqual((await readdir(work)).sort(), ['archive', 'data']);
    const forced = await stratusCommand(['restore', join(work, 'archive'), '--data-dir', join(work, 'data'), '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.ok((await readdir(join(work, 'data'))).includes('journal.db'));
    assert.ok(!existsSync(join(work, 'data', 'keep.txt')));
    assert.deepEqual((await readdir(work)).sort(), ['archive', 'data']);
  });

  it('a data directory that is a file system of its own (a mount point): empty, and with --force one holding lost+found', { skip: process.getuid?.() !== 0 && 'needs root to mount' }, async () => {
    const work = join(dir, 'mounted');
    const target = join(work, 'data');
    await mkdir(target, { recursive: true });
    await writeFile(join(work, 'archive'), archive);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=700', 'tmpfs', target]);
    try {
      const r = await stratusCommand(['restore', join(work, 'archive'), '--data-dir', target]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((await readdir(target)).filter((f) => f.startsWith('.')), [], 'no staging or replaced directory left');
      assert.ok(existsSync(join(target, 'journal.db')));
      await rm(join(target, 'journal.db'));
      await rm(join(target, 'code'), { recursive: true, force: true });
      await mkdir(join(target, 'lost+found'));
      const forced = await stratusCommand(['restore', join(work, 'archive'), '--data-dir', target, '--force']);
      assert.equal(forced.code, 0, forced.stderr);
      const names = await readdir(target);
      assert.ok(names.includes('journal.db') && !names.includes('lost+found'), names.join(', '));
      assert.deepEqual(names.filter((f) => f.startsWith('.')), []);
    } finally {
      await run('umount', ['-l', target]).catch(() => undefined);
    }
  });

  it('an archive with one byte changed, writing nothing', async () => {
    for (const at of [Math.floor(archive.length / 2), 200, archive.length - 30]) {
      const bytes = Buffer.from(archive);
      bytes[at] = bytes[at]! ^ 0x5a;
      const r = await restore(bytes);
      assert.notEqual(r.code, 0, `a byte changed at ${at} was not noticed`);
      assert.match(r.stderr, /refusing the backup archive/);
      assert.deepEqual(r.left, [], 'nothing written, no temporary directory left');
    }
  });

  it('a member whose bytes differ from the manifest, though its zip CRC is right', async () => {
    const bytes = await rebuilt((_m, members) => {
      const journal = members.find((e) => e.name === 'journal.db')!;
      journal.bytes = Buffer.from(journal.bytes);
      journal.bytes[journal.bytes.length - 1] = journal.bytes[journal.bytes.length - 1]! ^ 1;
    });
    const r = await restore(bytes);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /journal\.db does not have the sha256 the manifest/);
    assert.deepEqual(r.left, []);
  });

  it('(attack) members named ../ or by an absolute path, listed in the manifest or not: nothing lands outside', async () => {
    const evil = Buffer.from('owned');
    const absolute = join(dir, 'abs-evil.txt');
    for (const hostile of ['../evil.txt', '../../evil.txt', 'code/../../evil.txt', absolute]) {
      for (const listed of [true, false]) {
        const placeholder = 'Z'.repeat(Buffer.byteLength(hostile));
        const built = await rebuilt((manifest, members) => {
          if (listed) manifest.members.push({ name: hostile, size: evil.length, sha256: sha256(evil) });
          members.push({ name: placeholder, bytes: evil });
        });
        const r = await restore(seal(renameEntry(built, placeholder, hostile)));
        assert.notEqual(r.code, 0, `${hostile} was accepted`);
        assert.match(r.stderr, /refusing the backup archive/);
        assert.deepEqual(r.left, [], 'nothing written');
        for (const where of [join(dir, 'evil.txt'), join(r.work, 'evil.txt'), join(dir, '..', 'evil.txt'), absolute]) assert.ok(!existsSync(where), `${where} was written`);
      }
    }
  });

  it('(attack) a member that is a symbolic link', async () => {
    const target = Buffer.from('/etc/passwd');
    const name = `code/sha256/${sha256(target)}`;
    const bytes = await rebuilt((manifest, members) => {
      manifest.members.push({ name, size: target.length, sha256: sha256(target) });
      members.push({ name, bytes: target, mode: 0o120777 });
    });
    const r = await restore(bytes);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /is a link or special file/);
    assert.deepEqual(r.left, []);
  });
});

describe('stratus backup fails', () => {
  it('when a blob the journal references is gone from the data directory, writing no archive', async () => {
    const stratus = await startStratus();
    const dir = await mkdtemp(join(tmpdir(), 'stratus-backup-missing-'));
    try {
      const zip = await makeZip({ 'index.js': 'exports.handler = async () => "gone";\n' });
      await stratus.lambda.send(new CreateFunctionCommand(createInput('g', zip)));
      await rm(join(stratus.dataDir, 'code', 'sha256', sha256(zip)));
      const r = await stratusCommand(['backup', join(dir, 'b.backup'), '--data-dir', stratus.dataDir]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`the backup is incomplete: the journal references code/sha256/${sha256(zip)}`));
      assert.deepEqual(await readdir(dir), [], 'no archive, no staging left');
      assert.deepEqual(await readdir(join(stratus.dataDir, 'gc-hold')), [], 'the hold on code collection is released');
    } finally {
      await stratus.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('on a directory that is no data directory of stratus up', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stratus-backup-none-'));
    try {
      const r = await stratusCommand(['backup', join(dir, 'b.backup'), '--data-dir', join(dir, 'nothing')]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /holds no journal\.db/);
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('stratus backup and restore stopped by a signal', () => {
  /** Runs a command, sends `signal` (twice) once `staged` names an entry of `watch` (its staging directory), and gives its exit and what `watch` holds then. */
  async function stopWhenStaged(args: string[], watch: string, staged: RegExp, signal: NodeJS.Signals) {
    const child = spawn(process.execPath, [STRATUS_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    let running = true;
    void exited.then(() => (running = false));
    let sent = false;
    while (running && !sent) {
      // Twice, as an impatient Ctrl-C: the second must not kill the command half-way either.
      if ((await readdir(watch).catch(() => [] as string[])).some((n) => staged.test(n))) sent = child.kill(signal);
      else await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 20));
    if (running) child.kill(signal);
    const code = await exited;
    return { sent, code, stderr, left: await readdir(watch).catch(() => [] as string[]) };
  }

  it('leaves no archive, no staging directory and no half-restored data directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stratus-backup-signal-'));
    const dataDir = join(dir, 'data');
    const stratus = await startStratus({ dataDir });
    try {
      await stratus.lambda.send(new CreateFunctionCommand(createInput('s', await makeZip({ 'index.js': 'exports.handler = async () => 1;\n' }))));
    } finally {
      await stratus.stop();
    }
    try {
      // A large (sparse) blob makes the backup's hashing and copying last long enough to be stopped half-way.
      const size = 512 * 1024 * 1024;
      const hash = createHash('sha256');
      const mib = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < size / mib.length; i++) hash.update(mib);
      const blob = join(stratus.dataDir, 'code', 'sha256', hash.digest('hex'));
      await writeFile(blob, '');
      await truncate(blob, size);
      const out = join(dir, 'out');
      await mkdir(out);
      const backup = await stopWhenStaged(['backup', join(out, 'b.backup'), '--data-dir', stratus.dataDir], out, /^\.stratus-backup-/, 'SIGTERM');
      assert.equal(backup.sent, true, `the backup ended before it could be stopped: ${backup.stderr}`);
      assert.equal(backup.code, 1, backup.stderr);
      assert.match(backup.stderr, /stopped by a signal: nothing was written/);
      assert.deepEqual(backup.left, [], 'no archive, no staging left');
      assert.deepEqual(await readdir(join(stratus.dataDir, 'gc-hold')), [], 'the hold on code collection is released');

      const whole = await stratusCommand(['backup', join(dir, 'whole.backup'), '--data-dir', stratus.dataDir]);
      assert.equal(whole.code, 0, whole.stderr);
      const target = join(dir, 'restored');
      const restore = await stopWhenStaged(['restore', join(dir, 'whole.backup'), '--data-dir', target], target, /^\.restore-/, 'SIGINT');
      assert.equal(restore.sent, true, `the restore ended before it could be stopped: ${restore.stderr}`);
      assert.equal(restore.code, 1, restore.stderr);
      assert.match(restore.stderr, /stopped by a signal: nothing was written/);
      assert.equal(existsSync(target), false, 'a data directory the restore created is removed with what it staged');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
