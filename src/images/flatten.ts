import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, realpath, rm } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { StratusError } from '../shared/errors.js';

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Directories Stratus binds into every image sandbox; an image that lacks them gets them empty. */
export const SANDBOX_MOUNT_POINTS = ['proc', 'dev', 'tmp', 'var/task', 'var/runtime', 'var/rapid', 'run/stratus', 'opt'];

export interface FlattenLimits {
  /** Total uncompressed bytes of all layers (Lambda: 10 GB). */
  maxUncompressedBytes: number;
  /** Shown in the size error (the ImageUri). */
  uri: string;
  /** bubblewrap, to extract each layer in a sandbox that sees only the tree being built. */
  bwrapPath: string;
}

/**
 * tar runs as root (owners and device nodes are kept) but in a sandbox whose filesystem is only
 * /usr (read-only), a minimal /dev and the tree at /rootfs: a symlink a lower layer planted
 * (`etc -> /`) can then only point inside the sandbox, never at the host. No /proc, and only
 * the capabilities extraction needs (no CAP_SYS_ADMIN: nothing can be mounted).
 */
function extractArgs(bwrapPath: string, rootfs: string, tar: string): [string, string[]] {
  const caps = ['CAP_CHOWN', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_SETFCAP'].flatMap((c) => ['--cap-add', c]);
  return [bwrapPath, [
    '--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts', '--die-with-parent', '--cap-drop', 'ALL', ...caps,
    '--ro-bind', '/usr', '/usr', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64', '--symlink', 'usr/bin', '/bin',
    '--dev', '/dev', '--bind', rootfs, '/rootfs', '--ro-bind', tar, '/layer.tar', '--',
    '/usr/bin/tar', '-xf', '/layer.tar', '-C', '/rootfs', '--numeric-owner', '--same-owner', '--same-permissions', '--exclude=.wh.*',
  ]];
}

/**
 * Applies image layers in order onto `rootfs` as OCI defines it: a `.wh.<name>` entry deletes
 * `<name>` of the layers below, `.wh..wh..opq` empties its directory of them; then the layer's
 * other entries are extracted with GNU tar, owners and modes kept, in a sandbox (see
 * extractArgs). Returns the uncompressed bytes.
 */
export async function flattenLayers(layerFiles: string[], rootfs: string, scratch: string, limits: FlattenLimits): Promise<number> {
  let total = 0;
  for (const [i, file] of layerFiles.entries()) {
    const tar = join(scratch, `layer-${i}.tar`);
    total += await decompress(file, tar, limits.maxUncompressedBytes - total, limits);
    await applyWhiteouts(rootfs, await run('tar', ['-tf', tar]));
    await run(...extractArgs(limits.bwrapPath, rootfs, tar));
    await rm(tar, { force: true });
  }
  for (const dir of SANDBOX_MOUNT_POINTS) await ensureDir(rootfs, dir);
  return total;
}

/** Gunzips (or copies) a layer into a plain tar, refusing to go past `budget` bytes. */
async function decompress(file: string, out: string, budget: number, limits: FlattenLimits): Promise<number> {
  const head = await readHead(file);
  let size = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      done(size > budget ? tooLarge(limits) : null, chunk);
    },
  });
  const gzipped = head[0] === 0x1f && head[1] === 0x8b;
  if (gzipped) await pipeline(createReadStream(file), createGunzip(), count, createWriteStream(out));
  else await pipeline(createReadStream(file), count, createWriteStream(out));
  return size;
}

function tooLarge(limits: FlattenLimits): StratusError {
  return new StratusError('InvalidParameterValue', `Image size must be smaller than ${limits.maxUncompressedBytes} bytes uncompressed. The source image ${limits.uri} is larger.`);
}

async function readHead(file: string): Promise<Buffer> {
  for await (const chunk of createReadStream(file, { start: 0, end: 1 })) return chunk as Buffer;
  return Buffer.alloc(0);
}

async function applyWhiteouts(rootfs: string, listing: string): Promise<void> {
  for (const raw of listing.split('\n')) {
    const entry = raw.replace(/^\.\//, '').replace(/\/$/, '');
    const slash = entry.lastIndexOf('/');
    const [dir, base] = [slash >= 0 ? entry.slice(0, slash) : '', entry.slice(slash + 1)];
    if (!base.startsWith(WHITEOUT)) continue;
    const parent = await inside(rootfs, dir);
    if (!parent) continue;
    if (base === OPAQUE) {
      for (const name of await readdir(parent).catch(() => [] as string[])) await rm(join(parent, name), { recursive: true, force: true });
    } else {
      const name = base.slice(WHITEOUT.length);
      if (name && name !== '.' && name !== '..') await rm(join(parent, name), { recursive: true, force: true });
    }
  }
}

/** `rootfs/dir` if it exists and, symlinks resolved, stays inside rootfs; else undefined. */
async function inside(rootfs: string, dir: string): Promise<string | undefined> {
  const real = await realpath(join(rootfs, dir)).catch(() => undefined);
  const root = await realpath(rootfs);
  if (!real) return undefined;
  const rel = relative(root, real);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..') ? real : undefined;
}

/**
 * Makes `rootfs/dir` a plain directory component by component, never through a symlink: whatever
 * else the image has on the way to a mount point (a symlink, which could point at the host, a file)
 * is replaced by an empty directory, as Lambda mounts its own over whatever an image has there.
 */
async function ensureDir(rootfs: string, dir: string): Promise<void> {
  let path = rootfs;
  for (const part of dir.split('/')) {
    path = join(path, part);
    const st = await lstat(path).catch(() => undefined);
    if (st?.isDirectory()) continue;
    if (st) await rm(path, { force: true });
    await mkdir(path, { mode: 0o755 });
  }
}

/** Runs a tool to completion; its stdout, or a StratusError with its stderr. */
export function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.once('error', (cause) => reject(new StratusError('Internal', `${cmd} could not run: ${cause.message}`, { cause })));
    child.once('exit', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new StratusError('InvalidParameterValue', `${cmd} failed (${code}): ${Buffer.concat(err).toString('utf8').trim().slice(0, 500)}`));
    });
  });
}
