// CriuSnapshots refuses to restore a snapshot onto another kind of root than the one it was
// made of: a container image's snapshot (no skeleton: criu's --root is the clone's image mount)
// never onto a zip sandbox's skeleton, nor a zip's onto an image root. Nothing is started.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { resolveConfig } from '../shared/config.js';
import { detectCgroups } from './cgroups.js';
import { CriuSnapshots } from './criu.js';

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
async function snapshotOf(name: string, root: 'image' | 'skeleton'): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(join(dir, 'img'), { recursive: true });
  await mkdir(join(dir, 'root'));
  await writeFile(join(dir, 'img', 'seccomp.img'), 'x');
  await writeFile(join(dir, 'snapshot.json'), JSON.stringify({ external: [], root }));
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
