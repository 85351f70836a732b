// A hostile tenant against the sandboxes' seccomp filter (native/stratus-seccomp.c): functions
// try to build a nested user + cgroup namespace, remount cgroups, use the kernel keyring and load
// BPF; every attempt fails with EPERM. A warm-pool stem, a provisioned environment, a
// container-image function and a SnapStart clone restored by CRIU run under the same filter. (src/sandbox/seccomp.test.ts shows, call by call, that the filter
// and not the kernel is what refuses.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateFunctionCommand, GetFunctionConfigurationCommand, GetProvisionedConcurrencyConfigCommand, InvokeCommand, PublishVersionCommand,
  PutProvisionedConcurrencyConfigCommand,
} from '@aws-sdk/client-lambda';
import { ImageLayout, NODE_ENTRYPOINT, nodeBaseFiles, startRegistry, type LocalRegistry } from '../helpers/oci.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/r';

/**
 * Python through ctypes: each attack step as a raw syscall, with arguments that change nothing
 * on the host even if the call were allowed (the keyring is only looked up; add_key names no keyring).
 */
const HOSTILE_PY = `
import ctypes, errno, platform
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {'x86_64': dict(unshare=272, mount=165, keyctl=250, add_key=248, bpf=321, clone3=435),
      'aarch64': dict(unshare=97, mount=40, keyctl=219, add_key=217, bpf=280, clone3=435)}[platform.machine()]
CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWCGROUP = 0x10000000, 0x20000, 0x02000000
def attempt(name, *args):
    ctypes.set_errno(0)
    ret = libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    return 'ok' if ret >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
def handler(event, context):
    return {
        'seccomp': [l.split(':')[1].strip() for l in open('/proc/self/status') if l.startswith('Seccomp:')][0],
        'nestedUserCgroupNamespace': attempt('unshare', CLONE_NEWUSER | CLONE_NEWCGROUP | CLONE_NEWNS),
        'mountCgroup': attempt('mount', b'cgroup', b'/tmp', b'cgroup', 0, b'memory'),
        'remountCgroup': attempt('mount', None, b'/sys/fs/cgroup', None, 0x20 | 0x1000, None),
        'userKeyring': attempt('keyctl', 0, -4, 0, 0, 0),
        'addKey': attempt('add_key', b'user', b'stratus-test', b'x', 1, 0),
        'bpfProgLoad': attempt('bpf', 5, None, 0),
        'clone3': attempt('clone3', None, 88),
    }
`;

/** Node.js: the attacks as a shell would try them, with util-linux's unshare. */
const HOSTILE_NODE = `
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const run = (cmd, args) => { const r = spawnSync(cmd, args, { encoding: 'utf8' }); return { status: r.status, stderr: r.stderr.trim() }; };
const seccomp = (pid) => /Seccomp:\\s*(\\d)/.exec(fs.readFileSync('/proc/' + pid + '/status', 'utf8'))[1];
exports.handler = async () => ({
  seccomp: seccomp('self'),
  pid1Seccomp: seccomp('1'),
  userNamespace: run('/usr/bin/unshare', ['-Ur', 'true']),
  userCgroupMount: run('/usr/bin/unshare', ['-Ur', '--cgroup', '--mount', 'mount', '-t', 'cgroup', '-o', 'memory', 'cgroup', '/tmp']),
  threads: await new Promise((resolve) => new (require('node:worker_threads').Worker)('require("worker_threads").parentPort.postMessage(6 * 7)', { eval: true }).once('message', resolve)),
});
`;

interface Attempted { status: number | null; stderr: string }
interface NodeFacts { seccomp: string; pid1Seccomp: string; userNamespace: Attempted; userCgroupMount: Attempted; threads: number }

async function invoke<T>(s: StratusProcess, name: string, qualifier?: string): Promise<{ body: T; log: string }> {
  const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, Qualifier: qualifier, LogType: 'Tail', Payload: Buffer.from('{}') }));
  const log = Buffer.from(out.LogResult ?? '', 'base64').toString();
  assert.equal(out.FunctionError, undefined, `${Buffer.from(out.Payload ?? []).toString()}\n${log}`);
  return { body: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as T, log };
}

async function create(s: StratusProcess, name: string, runtime: 'python3.11' | 'nodejs20.x', extra: { SnapStart?: { ApplyOn: 'PublishedVersions' } } = {}) {
  const [file, code, handler] = runtime === 'python3.11' ? ['app.py', HOSTILE_PY, 'app.handler'] : ['index.js', HOSTILE_NODE, 'index.handler'];
  await s.lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: runtime, Role: ROLE, Handler: handler, MemorySize: 128, Timeout: 30, Code: { ZipFile: await makeZip({ [file]: code }) }, ...extra,
  }));
}

function assertRefused(facts: NodeFacts): void {
  assert.equal(facts.seccomp, '2', 'the runtime runs under a seccomp filter');
  assert.equal(facts.pid1Seccomp, '2', "and so does the sandbox's pid 1");
  assert.notEqual(facts.userNamespace.status, 0);
  assert.match(facts.userNamespace.stderr, /unshare failed: Operation not permitted/);
  assert.notEqual(facts.userCgroupMount.status, 0);
  assert.match(facts.userCgroupMount.stderr, /unshare failed: Operation not permitted/);
  assert.equal(facts.threads, 42, 'threads still work');
}

describe('seccomp: a hostile function is refused namespaces, mounts, keyrings and BPF', () => {
  let s: StratusProcess;
  before(async () => {
    s = await startStratus({ args: ['--warm-pool', '1'], keepAliveMs: 60_000 });
  });
  after(() => s.stop());

  test('python3.11 with ctypes: every step fails with EPERM, clone3 with ENOSYS', async () => {
    await create(s, 'hostile-py', 'python3.11');
    const { body } = await invoke<Record<string, string>>(s, 'hostile-py');
    assert.deepEqual(body, {
      seccomp: '2', nestedUserCgroupNamespace: 'EPERM', mountCgroup: 'EPERM', remountCgroup: 'EPERM', userKeyring: 'EPERM', addKey: 'EPERM', bpfProgLoad: 'EPERM', clone3: 'ENOSYS',
    });
  });

  test('nodejs20.x spawning unshare and mount (in a warm-pool stem): refused', async () => {
    await create(s, 'hostile-node', 'nodejs20.x');
    const { body, log } = await invoke<NodeFacts>(s, 'hostile-node');
    assert.match(log, /Init Source: warm-pool/, 'the environment was a warm-pool stem');
    assertRefused(body);
  });

  test('a provisioned environment: refused', async () => {
    await create(s, 'hostile-pc', 'python3.11');
    await s.lambda.send(new PublishVersionCommand({ FunctionName: 'hostile-pc' }));
    await s.lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'hostile-pc', Qualifier: '1', ProvisionedConcurrentExecutions: 1 }));
    const deadline = Date.now() + 30_000;
    while ((await s.lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'hostile-pc', Qualifier: '1' }))).Status !== 'READY') {
      assert.ok(Date.now() < deadline, 'the provisioned environment did not become READY');
      await new Promise((r) => setTimeout(r, 100));
    }
    const { body, log } = await invoke<Record<string, string>>(s, 'hostile-pc', '1');
    assert.doesNotMatch(log, /Init Duration/, 'the invoke ran in the provisioned environment');
    assert.deepEqual([body.seccomp, body.nestedUserCgroupNamespace, body.mountCgroup], ['2', 'EPERM', 'EPERM']);
  });
});

describe('seccomp: a container-image function runs under the filter', () => {
  let registry: LocalRegistry;
  let layout: ImageLayout;
  let s: StratusProcess;
  before(async () => {
    registry = await startRegistry();
    layout = await ImageLayout.create();
    await layout.build('hostile', {
      files: {
        ...(await nodeBaseFiles()), '/usr/bin/unshare': { copy: '/usr/bin/unshare' },
        '/var/task/index.js': HOSTILE_NODE,
      },
      entrypoint: NODE_ENTRYPOINT, cmd: ['index.handler'], env: ['PATH=/usr/bin:/bin'], workingDir: '/var/task',
    });
    s = await startStratus();
  });
  after(async () => {
    await s?.stop();
    await registry?.stop();
    await layout?.remove();
  });

  test('its own unshare binary is refused a user namespace', async () => {
    const uri = await layout.push('hostile', registry, 'stratus/hostile:1');
    await s.lambda.send(new CreateFunctionCommand({ FunctionName: 'hostile-image', Role: ROLE, PackageType: 'Image', Code: { ImageUri: uri } }));
    const { body } = await invoke<NodeFacts>(s, 'hostile-image');
    assert.equal(body.seccomp, '2');
    assert.equal(body.pid1Seccomp, '2');
    assert.match(body.userNamespace.stderr, /unshare failed: Operation not permitted/);
    assert.equal(body.threads, 42);
  });
});

describe('seccomp: a SnapStart clone restored by CRIU keeps the filter', () => {
  let s: StratusProcess;
  before(async () => {
    s = await startStratus({ keepAliveMs: 60_000 });
  });
  after(() => s.stop());

  test('the version publishes with OptimizationStatus On; in its clone the filter is active and unshare fails', async () => {
    await create(s, 'hostile-snap', 'nodejs20.x', { SnapStart: { ApplyOn: 'PublishedVersions' } });
    await s.lambda.send(new PublishVersionCommand({ FunctionName: 'hostile-snap' }));
    const deadline = Date.now() + 60_000;
    let config = await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'hostile-snap', Qualifier: '1' }));
    while (config.State === 'Pending' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      config = await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'hostile-snap', Qualifier: '1' }));
    }
    assert.equal(config.State, 'Active');
    assert.deepEqual(config.SnapStart, { ApplyOn: 'PublishedVersions', OptimizationStatus: 'On' }, `${config.StateReasonCode}: ${config.StateReason}`);
    const { body, log } = await invoke<NodeFacts>(s, 'hostile-snap', '1');
    assert.match(log, /Restore Duration: /, 'the environment is a restored clone');
    assertRefused(body);
  });
});
