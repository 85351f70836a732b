import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BubblewrapSandboxDriver, detectCgroups, GvisorSandboxDriver, loadSeccompFilter, type GvisorOptions, type SandboxDriver } from '../../src/sandbox/index.js';
import { hostProcesses, runSandboxDriverContract } from './sandbox-driver.contract.js';

const RUNSC = '/usr/bin/runsc';
const NO_RUNSC = existsSync(RUNSC) ? false : 'runsc is not installed (scripts/setup.sh installs it)';
const limits = { uid: 993, gid: 990, minCpuCores: 1, pidsMax: 1024 };

runSandboxDriverContract({
  name: 'BubblewrapSandboxDriver',
  async newDriver() {
    const cgroups = detectCgroups(`stratus-sbxtest-${process.pid}`);
    const driver = new BubblewrapSandboxDriver({ ...limits, cgroups, bwrapPath: '/usr/bin/bwrap', slirpPath: '/usr/bin/slirp4netns', hostIdBase: 200_000, seccomp: await loadSeccompFilter() });
    return { driver, cleanup: () => cgroups.cleanup() };
  },
});

function gvisorOptions(root: string, instance = `stratus-gvtest-${process.pid}`): GvisorOptions {
  return { ...limits, cgroups: detectCgroups(instance), runscPath: RUNSC, root, memoryAllowanceMb: 32 };
}

runSandboxDriverContract({
  name: 'GvisorSandboxDriver',
  skip: NO_RUNSC,
  async newDriver() {
    const root = mkdtempSync(join(tmpdir(), 'stratus-gvisor-'));
    const opts = gvisorOptions(root);
    const driver = new GvisorSandboxDriver(opts);
    return {
      driver,
      async cleanup() {
        await driver.cleanup();
        assert.deepEqual(readdirSync(root), [], 'runsc state and bundles are removed');
        rmSync(root, { recursive: true, force: true });
        await opts.cgroups.cleanup();
      },
    };
  },
});

describe('GvisorSandboxDriver', { skip: NO_RUNSC }, () => {
  let root: string;
  let work: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'stratus-gvisor-'));
    work = mkdtempSync(join(tmpdir(), 'stratus-gvisor-work-'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  const spec = (command: string[], env: Record<string, string> = {}) => {
    const id = randomUUID();
    const taskDir = join(work, `${id}-task`);
    const controlDir = join(work, id.slice(0, 8));
    mkdirSync(taskDir);
    mkdirSync(controlDir);
    return { id, taskDir, controlDir, command, env: { PATH: '/usr/bin:/bin', ...env }, memoryMb: 128, tmpSizeMb: 8, network: 'none' as const };
  };

  it("never gives the function's environment to a host process, and leaves no state or bundle behind", async () => {
    const opts = gvisorOptions(root);
    const driver = new GvisorSandboxDriver(opts);
    const secret = `s3cret-${randomUUID()}`;
    const s = spec(['/bin/sh', '-c', 'echo up; sleep 30'], { FUNCTION_SECRET: secret });
    const sandbox = await driver.create(s);
    try {
      await new Promise<void>((resolve) => sandbox.stdout.once('data', () => resolve()));
      const ofSandbox = hostProcesses().filter((p) => p.cmdline.includes(s.id));
      assert.ok(ofSandbox.length >= 2, `runsc's processes carry the sandbox id: ${JSON.stringify(ofSandbox)}`);
      const leaking = hostProcesses().filter((p) => {
        try {
          return readFileSync(`/proc/${p.pid}/environ`, 'utf8').includes(secret);
        } catch {
          return false;
        }
      });
      assert.deepEqual(leaking, [], 'no host process has the secret in its environment');
    } finally {
      await sandbox.destroy();
    }
    assert.deepEqual(readdirSync(join(root, `stratus-${process.pid}`, 'bundles')), [], 'the bundle is removed');
    assert.deepEqual(readdirSync(join(root, `stratus-${process.pid}`, 'state')), [], 'runsc state is removed');
    await driver.cleanup();
    await opts.cgroups.cleanup();
  });

  it('refuses outbound network and checkpointable sandboxes with a clear error', async () => {
    const opts = gvisorOptions(root);
    const driver = new GvisorSandboxDriver(opts);
    await assert.rejects(driver.create({ ...spec(['/bin/true']), network: 'outbound' }), /no outbound network/);
    await assert.rejects(driver.create({ ...spec(['/bin/true']), checkpointable: true }), /cannot checkpoint/);
    assert.equal((driver as SandboxDriver).snapshots, undefined, 'no SnapStart');
    await opts.cgroups.cleanup();
  });

  it('a worker killed with SIGKILL takes its gVisor sandboxes with it (runsc, sentry, gofer)', async () => {
    const dir = mkdtempSync(join(work, 'worker-'));
    const sandboxModule = new URL('../../src/sandbox/index.js', import.meta.url).href;
    const code = `
      import { GvisorSandboxDriver, detectCgroups } from ${JSON.stringify(sandboxModule)};
      import { mkdirSync } from 'node:fs';
      const dir = ${JSON.stringify(dir)};
      mkdirSync(dir + '/task'); mkdirSync(dir + '/ctl');
      const driver = new GvisorSandboxDriver({ ...${JSON.stringify(limits)}, cgroups: detectCgroups('stratus-' + process.pid), runscPath: ${JSON.stringify(RUNSC)}, root: dir + '/gv', memoryAllowanceMb: 32 });
      const sandbox = await driver.create({ id: 'dying-' + process.pid, taskDir: dir + '/task', controlDir: dir + '/ctl', command: ['/bin/sh', '-c', 'echo up; sleep 100'], env: { PATH: '/usr/bin:/bin' }, memoryMb: 128, tmpSizeMb: 8, network: 'none' });
      sandbox.stdout.once('data', () => console.log('up'));`;
    const worker = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    const ofSandbox = () => hostProcesses().filter((p) => p.cmdline.includes(dir));
    try {
      await new Promise((resolve, reject) => {
        worker.stdout?.once('data', resolve);
        void exited.then(() => reject(new Error('the worker exited before its sandbox was up')));
      });
      assert.ok(ofSandbox().length >= 3, 'runsc, its gofer and its sentry are running');
      worker.kill('SIGKILL');
      await exited;
      const deadline = Date.now() + 5000;
      while (ofSandbox().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(ofSandbox(), [], 'nothing of the sandbox outlives its worker');
    } finally {
      worker.kill('SIGKILL');
      for (const p of ofSandbox()) process.kill(p.pid, 'SIGKILL');
      // The dead worker's cgroups: what every worker start removes.
      await detectCgroups(`stratus-${process.pid}`).cleanup();
    }
  });

  it("cleanup() removes the runsc state and bundles a dead predecessor left", async () => {
    // A predecessor is simulated by a driver whose directory is named after a dead pid.
    const dead = 2 ** 22 + 12345;
    assert.equal(existsSync(`/proc/${dead}`), false);
    const leftover = join(root, `stratus-${dead}`);
    mkdirSync(join(leftover, 'bundles', 'x'), { recursive: true });
    mkdirSync(join(leftover, 'state'), { recursive: true });
    const opts = gvisorOptions(root);
    const driver = new GvisorSandboxDriver(opts);
    await driver.cleanup();
    assert.equal(existsSync(leftover), false);
    await opts.cgroups.cleanup();
  });
});
