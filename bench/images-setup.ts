/**
 * The images of the `images` scenario, built once and kept in .cache/images/ (git-ignored):
 * a Debian bookworm minbase (debootstrap, from deb.debian.org) plus Node.js and Stratus's
 * runtime client as the base; `app` (base + a hello handler, ~the realistic image), `app2`
 * (the same base, another handler: the dedup case) and `padded` (base + 800 MiB of random data
 * the function never reads + the handler: the 1 GB case).
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImageLayout, NODE_ENTRYPOINT, nodeBaseFiles } from '../test/helpers/oci.js';
import { log, runCommand } from './harness.js';

export const IMAGES_CACHE = fileURLToPath(new URL('../../.cache/images/', import.meta.url));
export const PAD_FILES = 8;
export const PAD_FILE_BYTES = 100 * 1024 * 1024;

const HELLO = "export const handler = async () => ({ message: 'hello world' });\n";
const HELLO2 = "import { greet } from './lib/greet.mjs';\nexport const handler = async () => ({ message: greet('second image') });\n";

/** Debian's minbase, from deb.debian.org (debootstrap is installed with apt-get if missing). */
async function minbase(): Promise<string> {
  const dir = join(IMAGES_CACHE, 'minbase');
  if (existsSync(join(dir, 'etc', 'os-release'))) return dir;
  if (!existsSync('/usr/sbin/debootstrap')) {
    log('installing debootstrap with apt-get (once)');
    spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'debootstrap'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const tmp = `${dir}-tmp`;
  await rm(tmp, { recursive: true, force: true });
  log('debootstrap --variant=minbase bookworm (once; about a minute)');
  await runCommand('/usr/sbin/debootstrap', ['--variant=minbase', 'bookworm', tmp, 'http://deb.debian.org/debian'], { timeoutMs: 900_000 });
  // Device nodes and package caches are not part of an image.
  await runCommand('sh', ['-c', `rm -rf ${tmp}/dev/* ${tmp}/var/cache/apt/*.bin ${tmp}/var/cache/apt/archives/*.deb ${tmp}/var/lib/apt/lists/*`]);
  await rename(tmp, dir);
  return dir;
}

async function padFile(path: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const out = createWriteStream(path);
  for (let written = 0; written < PAD_FILE_BYTES; written += 4 * 1024 * 1024) {
    if (!out.write(randomBytes(4 * 1024 * 1024))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/** The OCI layout with tags base, app, app2 and padded (built on first use). */
export async function benchImages(): Promise<ImageLayout> {
  const layout = await ImageLayout.create(join(IMAGES_CACHE, 'oci'));
  if (await layout.has('padded')) return layout;
  const root = await minbase();
  const node = Object.fromEntries(Object.entries(await nodeBaseFiles()).filter(([path]) => path === '/usr/bin/node' || path.startsWith('/var/runtime/')));
  log('building the bench images with umoci (once; a few minutes)');
  await layout.build('base', {
    files: { '/': { copy: `${root}/.` }, ...node },
    entrypoint: NODE_ENTRYPOINT, cmd: ['index.handler'], workingDir: '/var/task', env: ['PATH=/usr/local/bin:/usr/bin:/bin'],
  });
  await layout.build('app', { base: 'base', files: { '/var/task/index.mjs': HELLO } });
  await layout.build('app2', {
    base: 'base',
    files: { '/var/task/index.mjs': HELLO2, '/var/task/lib/greet.mjs': 'export const greet = (who) => `hello from the ${who}`;\n' },
  });
  const padDir = join(IMAGES_CACHE, 'pad');
  for (let i = 0; i < PAD_FILES; i++) await padFile(join(padDir, `pad-${i}.bin`));
  await layout.build('padded', { base: 'base', files: { '/srv/pad': { copy: padDir }, '/var/task/index.mjs': HELLO } });
  await rm(padDir, { recursive: true, force: true });
  return layout;
}
