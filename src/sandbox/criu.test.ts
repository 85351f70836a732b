// CriuSnapshots refuses to restore a snapshot onto another kind of root than the one it was
// made of: a container image's snapshot (no skeleton: criu's --root is the clone's image mount)
// never onto a zip sandbox's skeleton, nor a zip's onto an image root; nor an image's snapshot
// onto another image, nor onto a root with a symlink on the way to a mount point (criu, host root,
// would mount through it). Nothing is started.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { resolveConfig } from '../shared/config.js';
import { detectCgroups } from './cgroups.js';
import { checkMountPaths, CriuSnapshots } from './criu.js';

let scratch = '';
const cgroups = detectCgroups(`stratus-criu-test-${process.pid}`);

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'stratus-criu-test-'));
});
after(async () => {
  await cgroups.cleanup();
  await rm(scratch, { recursive: true, force: true });
});

/** A snapshot directory as a checkpoint leaves it (criu's images are not needed to be refused). */
async function snapshotOf(name: string, root: 'image' | 'skeleton', more: object = {}): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(join(dir, 'img'), { recursive: true });
  await mkdir(join(dir, 'root'));
  await writeFile(join(dir, 'img', 'seccomp.img'), 'x');
  await writeFile(join(dir, 'snapshot.json'), JSON.stringify({ external: [], root, ...more }));
  return dir;
}

it('restores an image snapshot only onto an image root, and a zip snapshot only onto its skeleton', async (t) => {
  const config = resolveConfig({}).sandbox;
  const snapshots = new CriuSnapshots({ criuPath: config.criuPath, sandbox: { ...config, cgroups }, stateDir: join(scratch, 'criu') });
  const unavailable = await snapshots.unavailableReason();
  if (unavailable) return t.skip(unavailable);
  const control = join(scratch, 'control');
  await mkdir(control);
  const spec = { id: 'clone', taskDir: join(scratch, 'task'), controlDir: control, command: [], env: {}, memoryMb: 128, tmpSizeMb: 16, network: 'none' as const };
  await assert.rejects(snapshots.restore(spec, { dir: await snapshotOf('of-image', 'image') }), {
    code: 'SnapshotFailed', message: 'The snapshot was made of a container image sandbox, not of this one',
  });
  await assert.rejects(snapshots.restore({ ...spec, rootDir: join(scratch, 'image-root') }, { dir: await snapshotOf('of-zip', 'skeleton') }), {
    code: 'SnapshotFailed', message: 'The snapshot was made of a zip sandbox, not of this one',
  });
  assert.deepEqual(await readdir(control), [], 'no stdio FIFO, marker or criu log was made');
});

const IMAGE = `sha256:${'a'.repeat(64)}`;

it('restores an image snapshot only onto the image it was made of, and never through a symlink at a mount point', async (t) => {
  const config = resolveConfig({}).sandbox;
  const snapshots = new CriuSnapshots({ criuPath: config.criuPath, sandbox: { ...config, cgroups }, stateDir: join(scratch, 'criu-2') });
  const unavailable = await snapshots.unavailableReason();
  if (unavailable) return t.skip(unavailable);
  const control = join(scratch, 'control-2');
  await mkdir(control);
  const imageRoot = join(scratch, 'image-root-2');
  const host = join(scratch, 'host-target');
  await mkdir(join(imageRoot, 'run', 'stratus'), { recursive: true });
  await mkdir(join(imageRoot, 'var', 'rapid'), { recursive: true });
  await mkdir(host);
  await symlink(host, join(imageRoot, 'tmp'));
  const spec = { id: 'clone', taskDir: join(scratch, 'task'), rootDir: imageRoot, controlDir: control, command: [], env: {}, memoryMb: 128, tmpSizeMb: 16, network: 'none' as const };
  const mounts = ['/proc', '/dev', '/tmp', '/run', '/run/stratus', '/run/rapid', '/var/rapid'];
  const made = await snapshotOf('of-image-2', 'image', { rootDigest: IMAGE, mounts, external: ['/run/stratus', '/var/rapid'] });
  await assert.rejects(snapshots.restore(spec, { dir: made }, { rootDigest: `sha256:${'b'.repeat(64)}` }), {
    code: 'SnapshotFailed', message: `The snapshot was made of image ${IMAGE}, not of sha256:${'b'.repeat(64)}`,
  });
  await assert.rejects(snapshots.restore(spec, { dir: await snapshotOf('unnamed', 'image', { mounts }) }, { rootDigest: IMAGE }), {
    code: 'SnapshotFailed', message: 'The snapshot does not name its image; publish the version again',
  });
  await assert.rejects(snapshots.restore(spec, { dir: made }, { rootDigest: IMAGE }), {
    code: 'SnapshotFailed', message: 'The sandbox\'s root has a symlink at /tmp (on the way to mount point /tmp): refused',
  });
  assert.deepEqual(await readdir(control), [], 'no stdio FIFO, marker or criu log was made');
  assert.deepEqual(await readdir(host), []);
});

it('checkMountPaths: plain directories (or a file, for a file bind) pass; a symlink on the way to a mount point does not', async () => {
  const root = join(scratch, 'paths');
  await mkdir(join(root, 'var', 'task'), { recursive: true });
  await mkdir(join(root, 'run'));
  await mkdir(join(root, 'etc'));
  await writeFile(join(root, 'etc', 'hosts'), '');
  await symlink('/etc', join(root, 'opt'));
  await symlink('/etc', join(root, 'run', 'link'));
  // Below another mount point (the /run tmpfs) is that mount's, not the root's; missing is criu's to find.
  await checkMountPaths(root, ['/var/task', '/etc/hosts', '/run', '/run/link/x', '/missing/below']);
  await assert.rejects(checkMountPaths(root, ['/opt']), { code: 'SnapshotFailed', message: /symlink at \/opt/ });
  await assert.rejects(checkMountPaths(root, ['/opt/layer']), { message: /symlink at \/opt \(on the way to mount point \/opt\/layer\)/ });
  await assert.rejects(checkMountPaths(root, ['/run/link/x']), { message: /symlink at \/run\/link/ });
  await assert.rejects(checkMountPaths(root, ['/etc/hosts/x']), { message: /non-directory at \/etc\/hosts/ });
});
