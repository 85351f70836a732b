import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { SandboxSpec } from './driver.js';
import { writeBundle } from './gvisor-bundle.js';

interface Config {
  process: { user: { uid: number; gid: number }; env: string[]; args: string[]; cwd: string; noNewPrivileges: boolean; capabilities: Record<string, string[]> };
  root: { path: string; readonly: boolean };
  mounts: { destination: string; type: string; source: string; options: string[] }[];
  linux: { cgroupsPath: string; seccomp: { syscalls: { names: string[] }[] } };
}

describe('gVisor OCI bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stratus-bundle-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const opts = { uid: 993, gid: 990, etcFiles: ['/etc/hosts', '/etc/does-not-exist'], extraReadOnlyPaths: [] };
  const spec = (extra: Partial<SandboxSpec> = {}): SandboxSpec => ({
    id: 'a1b2c3d4-0000-4000-8000-000000000000', taskDir: '/srv/task', controlDir: '/run/ctl', command: ['/var/rapid/stratus-init', '--', 'node'],
    env: { A: '1', B: 'two=2' }, memoryMb: 128, tmpSizeMb: 16, network: 'none', binds: [{ source: '/srv/native', target: '/var/rapid' }], ...extra,
  });
  const read = (bundle: string) => JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Config;

  it("runs the spec's command with its environment only, unprivileged, on a read-only skeleton root", async () => {
    const bundle = join(dir, 'zip');
    await writeBundle(bundle, spec({ workingDir: '/var/task/sub' }), opts);
    const c = read(bundle);
    assert.deepEqual(c.process.env, ['A=1', 'B=two=2']);
    assert.equal(lstatSync(bundle).mode & 0o777, 0o700, 'the environment in config.json is for root alone');
    assert.deepEqual(c.process.args, ['/var/rapid/stratus-init', '--', 'node']);
    assert.equal(c.process.cwd, '/var/task/sub');
    assert.deepEqual(c.process.user, { uid: 993, gid: 990, additionalGids: [] });
    assert.equal(c.process.noNewPrivileges, true);
    assert.ok(Object.values(c.process.capabilities).every((caps) => caps.length === 0));
    assert.deepEqual(c.root, { path: join(bundle, 'rootfs'), readonly: true });
    assert.ok(!c.linux.cgroupsPath.startsWith('/'), 'a relative cgroupsPath: never at the root of a hierarchy');
    assert.ok(c.linux.seccomp.syscalls.some((r) => r.names.includes('unshare')));
    // Mount points exist in the skeleton: a file for a file, a directory otherwise.
    assert.ok(lstatSync(join(bundle, 'rootfs/etc/hosts')).isFile());
    assert.ok(lstatSync(join(bundle, 'rootfs/var/task')).isDirectory());
    assert.equal(existsSync(join(bundle, 'rootfs/etc/does-not-exist')), false);
  });

  it('gives the layout of driver.ts: read-only code, a sized /tmp, the control directory at /run/stratus', async () => {
    const bundle = join(dir, 'layout');
    await writeBundle(bundle, spec({ optDir: '/srv/opt', runtimeDir: '/srv/runtime' }), opts);
    const at = new Map(read(bundle).mounts.map((m) => [m.destination, m]));
    for (const [dest, source] of [['/var/task', '/srv/task'], ['/opt', '/srv/opt'], ['/var/runtime', '/srv/runtime'], ['/var/rapid', '/srv/native'], ['/usr', '/usr']]) {
      assert.equal(at.get(dest as string)?.source, source);
      assert.ok(at.get(dest as string)?.options.includes('ro'), `${dest} is read-only`);
    }
    assert.equal(at.get('/run/stratus')?.source, '/run/ctl');
    assert.equal(at.get('/tmp')?.type, 'tmpfs');
    assert.ok(at.get('/tmp')?.options.includes('size=16m'));
    assert.equal(at.get('/proc')?.type, 'proc');
  });

  it("roots an image function in its image, without the host's /usr or the task dir", async () => {
    const bundle = join(dir, 'image');
    await writeBundle(bundle, spec({ rootDir: '/srv/image' }), opts);
    const c = read(bundle);
    assert.deepEqual(c.root, { path: '/srv/image', readonly: true });
    const dests = c.mounts.map((m) => m.destination);
    assert.ok(!dests.includes('/usr') && !dests.includes('/var/task'), dests.join(' '));
    assert.ok(dests.includes('/var/rapid') && dests.includes('/run/stratus') && dests.includes('/tmp'));
  });
});
