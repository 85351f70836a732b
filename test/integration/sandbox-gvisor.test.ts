// The gVisor driver through a real Stratus and the AWS SDK: a function tagged
// stratus:sandbox=gvisor (or every function, with --sandbox-driver gvisor) runs on gVisor's
// kernel. Node.js and Python work, warm environments are reused, timeouts and OOM give Lambda's
// errors, and a hostile function's attacks on the host fail.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, PublishVersionCommand, TagResourceCommand, UntagResourceCommand,
  type CreateFunctionCommandInput,
} from '@aws-sdk/client-lambda';
import { ImageLayout, NODE_ENTRYPOINT, nodeBaseFiles, startRegistry, type LocalRegistry } from '../helpers/oci.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';
import { NODE_PROBE_HELPERS } from '../helpers/probes.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const NO_RUNSC = existsSync('/usr/bin/runsc') ? false : 'runsc is not installed (scripts/setup.sh installs it)';
const GVISOR = { 'stratus:sandbox': 'gvisor' };
/** gVisor's kernel calls itself 4.4.0; the host's is anything else. */
const GVISOR_RELEASE = '4.4.0';

const NODE = `
const fs = require('fs'), os = require('os'), net = require('net'), cp = require('child_process');
let calls = 0;
const run = (file, args) => { const r = cp.spawnSync(file, args, { encoding: 'utf8', timeout: 10000 }); return { status: r.status, err: (r.stderr || '').trim().slice(0, 200) }; };
${NODE_PROBE_HELPERS}
/** Opens for writing and closes without writing a byte: nothing changes even if it is allowed. */
const openForWrite = (path) => attempt(() => { fs.closeSync(fs.openSync(path, 'r+')); return 'OPENED'; });
const SYSCALLS = [
  'import ctypes, errno, json, os',
  'libc = ctypes.CDLL(None, use_errno=True)',
  'def call(*a):',
  '  r = libc.syscall(*a)',
  '  return "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")',
  'out = {"add_key": call(248, b"user", b"stratus", b"x", 1, -2), "keyctl": call(250, 1, None)}',
  'r = libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)',
  'if r == 0: os._exit(0)',
  'out["clone_newuser"] = "ok" if r > 0 else errno.errorcode.get(ctypes.get_errno(), "?")',
  'print(json.dumps(out))',
].join('\\n');
exports.handler = async (event) => {
  calls++;
  switch (event.action) {
    case 'sleep': await new Promise((r) => setTimeout(r, event.ms)); return { slept: true };
    case 'allocate': { const keep = []; for (let i = 0; i < event.mb; i++) keep.push(Buffer.alloc(1024 * 1024, 1)); return { allocated: keep.length }; }
    case 'attack': {
      const py = cp.spawnSync('/usr/bin/python3', ['-c', SYSCALLS], { encoding: 'utf8', timeout: 10000 });
      return {
        procSys: ['/proc/sys/vm/overcommit_memory', '/proc/sys/kernel/hostname', '/proc/sys/kernel/pid_max'].map(openForWrite),
        shadow: attempt(() => fs.readFileSync('/etc/shadow', 'utf8')),
        dataDir: attempt(() => fs.readdirSync(event.dataDir)),
        hostRoot: attempt(() => fs.readdirSync('/root')),
        toStratus: await connect('127.0.0.1', event.stratusPort),
        mount: run('/usr/bin/mount', ['-t', 'tmpfs', 'none', '/tmp']),
        unshareUser: run('/usr/bin/unshare', ['-U', 'true']),
        unshareMap: run('/usr/bin/unshare', ['-Ur', 'true']),
        syscalls: JSON.parse(py.stdout || '{}'),
        syscallsErr: py.stderr,
        procPids: fs.readdirSync('/proc').filter((e) => /^\\d+$/.test(e)).map(Number),
        hostPidVisible: fs.existsSync('/proc/' + event.hostPid),
        interfaces: Object.keys(os.networkInterfaces()),
        mountinfo: fs.readFileSync('/proc/self/mountinfo', 'utf8'),
      };
    }
    default: return { release: os.release(), calls, pid: process.pid, uid: process.getuid() };
  }
};`;

const PYTHON = `
import os, platform
calls = 0
def handler(event, context):
    global calls
    calls += 1
    return {"release": platform.release(), "calls": calls, "uid": os.getuid(), "echo": event.get("echo")}
`;

interface Attempt {
  ok: boolean;
  code?: string;
}

/** What the hostile function reports (see NODE's 'attack'). */
interface Attacks {
  procSys: Attempt[];
  shadow: Attempt;
  dataDir: Attempt;
  hostRoot: Attempt;
  toStratus: string;
  mount: { status: number | null };
  unshareUser: { status: number | null };
  unshareMap: { status: number | null };
  syscalls: Record<string, string>;
  syscallsErr: string;
  procPids: number[];
  hostPidVisible: boolean;
  interfaces: string[];
  mountinfo: string;
}

/** The cgroup v1 directory of this process for `controller` (Stratus's subtree is below it). */
function ownCgroup(controller: string): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller));
  return join('/sys/fs/cgroup', controller, line?.split(':')[2] ?? '/');
}

/** Host processes whose command line mentions `text` (runsc's carry their state and bundle paths). */
function processesMentioning(text: string): string[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      const cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ');
      return cmdline.includes(text) ? [`${p}: ${cmdline.slice(0, 200)}`] : [];
    } catch {
      return [];
    }
  });
}

async function invoke(s: StratusProcess, name: string, event: unknown = {}) {
  const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)), LogType: 'Tail' }));
  return {
    error: out.FunctionError,
    body: JSON.parse(Buffer.from(out.Payload ?? []).toString() || 'null') as Record<string, unknown>,
    log: Buffer.from(out.LogResult ?? '', 'base64').toString(),
  };
}

async function create(s: StratusProcess, name: string, extra: Partial<CreateFunctionCommandInput> = {}) {
  await s.lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', MemorySize: 128, Timeout: 30,
    Code: { ZipFile: await makeZip({ 'index.js': NODE }) }, ...extra,
  }));
}

describe('functions tagged stratus:sandbox=gvisor', { skip: NO_RUNSC }, () => {
  let s: StratusProcess;
  before(async () => {
    s = await startStratus({ keepAliveMs: 60_000 });
    await create(s, 'gv-node', { Tags: GVISOR });
  });
  after(async () => {
    const dataDir = s.dataDir;
    await s.stop();
    assert.deepEqual(processesMentioning(dataDir), [], 'no runsc, sentry or gofer is left running');
  });

  test('a Node.js function runs on gVisor at 128 MB, and its warm environment is reused', async () => {
    const first = await invoke(s, 'gv-node');
    assert.equal(first.error, undefined, first.log);
    assert.equal(first.body.release, GVISOR_RELEASE);
    assert.notEqual(release(), GVISOR_RELEASE, 'the host kernel is not gVisor');
    assert.notEqual(first.body.uid, 0);
    assert.match(first.log, /Init Duration: /);
    const second = await invoke(s, 'gv-node');
    assert.equal(second.body.calls, 2, 'the same environment served both');
    assert.doesNotMatch(second.log, /Init Duration/);
  });

  test('an idle gVisor environment is frozen (sentry, gofer and all) and thawed by its next invoke', async (t) => {
    const freezer = ownCgroup('freezer');
    if (!existsSync(join(freezer, 'cgroup.procs'))) return t.skip('no cgroup v1 freezer here');
    await create(s, 'gv-freeze', { Tags: GVISOR });
    assert.equal((await invoke(s, 'gv-freeze')).body.calls, 1);
    await new Promise((res) => setTimeout(res, 500));
    const base = join(freezer, `stratus-${s.pid}`);
    const states = readdirSync(base, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => readFileSync(join(base, e.name, 'freezer.state'), 'utf8').trim());
    assert.ok(states.length >= 1 && states.every((state) => state === 'FROZEN'), `every idle environment is frozen: ${states}`);
    const next = await invoke(s, 'gv-freeze');
    assert.equal(next.error, undefined, next.log);
    assert.equal(next.body.calls, 2, 'the same (thawed) environment');
  });

  test('a Python function runs on gVisor', async () => {
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'gv-py', Runtime: 'python3.11', Role: ROLE, Handler: 'app.handler', MemorySize: 128, Timeout: 30,
      Code: { ZipFile: await makeZip({ 'app.py': PYTHON }) }, Tags: GVISOR,
    }));
    const first = await invoke(s, 'gv-py', { echo: 'hi' });
    assert.equal(first.error, undefined, first.log);
    assert.deepEqual({ ...first.body, uid: undefined }, { release: GVISOR_RELEASE, calls: 1, uid: undefined, echo: 'hi' });
    assert.equal((await invoke(s, 'gv-py')).body.calls, 2);
  });

  test('a timeout gives Sandbox.Timedout and the next invoke gets a fresh sandbox', async () => {
    await create(s, 'gv-slow', { Tags: GVISOR, Timeout: 1 });
    const r = await invoke(s, 'gv-slow', { action: 'sleep', ms: 5000 });
    assert.equal(r.error, 'Unhandled');
    assert.equal(r.body.errorType, 'Sandbox.Timedout');
    const next = await invoke(s, 'gv-slow');
    assert.equal(next.body.release, GVISOR_RELEASE);
    assert.equal(next.body.calls, 1);
  });

  test('going over MemorySize gives Runtime.OutOfMemory, and the next invoke works', async () => {
    await create(s, 'gv-hog', { Tags: GVISOR });
    const r = await invoke(s, 'gv-hog', { action: 'allocate', mb: 400 });
    assert.equal(r.error, 'Unhandled', JSON.stringify(r.body));
    assert.equal(r.body.errorType, 'Runtime.OutOfMemory');
    const next = await invoke(s, 'gv-hog', { action: 'allocate', mb: 40 });
    assert.equal(next.error, undefined, next.log);
    assert.equal(next.body.allocated, 40);
  });

  test("a hostile function's attacks on the host fail", async () => {
    const r = await invoke(s, 'gv-node', { action: 'attack', dataDir: s.dataDir, stratusPort: s.port, hostPid: s.pid });
    assert.equal(r.error, undefined, r.log);
    const a = r.body as unknown as Attacks;
    for (const w of a.procSys) assert.equal(w.ok, false, `a /proc/sys file opened for writing: ${JSON.stringify(a.procSys)}`);
    assert.equal(a.shadow.code, 'ENOENT');
    assert.equal(a.dataDir.code, 'ENOENT');
    assert.equal(a.hostRoot.code, 'ENOENT');
    assert.equal(a.toStratus, 'ECONNREFUSED');
    assert.notEqual(a.mount.status, 0, `mount: ${JSON.stringify(a.mount)}`);
    assert.notEqual(a.unshareUser.status, 0, `unshare -U: ${JSON.stringify(a.unshareUser)}`);
    assert.notEqual(a.unshareMap.status, 0, `unshare -Ur: ${JSON.stringify(a.unshareMap)}`);
    assert.deepEqual(a.syscalls, { add_key: 'EPERM', keyctl: 'EPERM', clone_newuser: 'EPERM' }, a.syscallsErr);
    assert.equal(a.hostPidVisible, false);
    assert.ok(a.procPids.length < 10 && Math.max(...a.procPids) < 100, `only the sandbox's processes: ${a.procPids}`);
    assert.deepEqual(a.interfaces, ['lo']);
    for (const hostPath of [s.dataDir, 'stratus-run', process.cwd()]) assert.ok(!a.mountinfo.includes(hostPath), `mountinfo shows ${hostPath}:\n${a.mountinfo}`);
  });

  test('tagging moves a function into gVisor and untagging out of it, retiring its environments', async () => {
    await create(s, 'switch');
    const arn = `arn:aws:lambda:us-east-1:000000000000:function:switch`;
    assert.equal((await invoke(s, 'switch')).body.release, release());
    await s.lambda.send(new TagResourceCommand({ Resource: arn, Tags: GVISOR }));
    const tagged = await invoke(s, 'switch');
    assert.equal(tagged.body.release, GVISOR_RELEASE);
    assert.equal(tagged.body.calls, 1, 'a new environment');
    await s.lambda.send(new UntagResourceCommand({ Resource: arn, TagKeys: ['stratus:sandbox'] }));
    assert.equal((await invoke(s, 'switch')).body.release, release());
  });

  test('outbound network is refused for a gVisor function, with the reason', async () => {
    await create(s, 'gv-net', { Tags: { ...GVISOR, 'stratus:network': 'outbound' } });
    await assert.rejects(invoke(s, 'gv-net'), (err: Error) => err.name === 'ServiceException' && /no outbound network/.test(err.message));
  });
});

describe('an installation started with --sandbox-driver gvisor', { skip: NO_RUNSC }, () => {
  let s: StratusProcess;
  before(async () => {
    s = await startStratus({ args: ['--sandbox-driver', 'gvisor', '--warm-pool', '1'], keepAliveMs: 60_000 });
  });
  after(async () => {
    const pid = s.pid;
    const gvisorDir = join(s.dataDir, 'worker', 'gvisor');
    await s.kill();
    // A killed worker leaves its sandboxes and runsc state; the next start on the same data directory removes them.
    assert.ok(existsSync(join(gvisorDir, `stratus-${pid}`)));
    const restarted = await startStratus({ dataDir: s.dataDir, args: ['--sandbox-driver', 'gvisor'], credentials: s.credentials });
    try {
      assert.equal(existsSync(join(gvisorDir, `stratus-${pid}`)), false, `left over: ${readdirSync(gvisorDir)}`);
      assert.deepEqual(processesMentioning(join(gvisorDir, `stratus-${pid}`)), [], "the killed worker's sandboxes are gone");
    } finally {
      await restarted.stop();
      await rm(s.dataDir, { recursive: true, force: true });
    }
  });

  test('a warm-pool stem (booted in gVisor) takes a function: its code appears in the running sandbox', async () => {
    await create(s, 'pooled');
    // runsc, its gofer and its sentry: the stem is up once they are (its runtime then waits for a function).
    const deadline = Date.now() + 20_000;
    while ((await s.descendants()).length < 3 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    await new Promise((res) => setTimeout(res, 1500));
    const r = await invoke(s, 'pooled');
    assert.equal(r.error, undefined, r.log);
    assert.match(r.log, /Init Source: warm-pool/);
    assert.deepEqual({ release: r.body.release, calls: r.body.calls }, { release: GVISOR_RELEASE, calls: 1 });
  });

  test('runs every function in gVisor; SnapStart is Off with the reason', async () => {
    await create(s, 'plain', { SnapStart: { ApplyOn: 'PublishedVersions' } });
    const r = await invoke(s, 'plain');
    assert.equal(r.error, undefined, r.log);
    assert.equal(r.body.release, GVISOR_RELEASE);
    await s.lambda.send(new PublishVersionCommand({ FunctionName: 'plain' }));
    const deadline = Date.now() + 60_000;
    let config = await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'plain', Qualifier: '1' }));
    while (config.State === 'Pending' && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 100));
      config = await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'plain', Qualifier: '1' }));
    }
    assert.equal(config.State, 'Active');
    assert.deepEqual(config.SnapStart, { ApplyOn: 'PublishedVersions', OptimizationStatus: 'Off' });
    assert.equal(config.StateReasonCode, 'SnapStartUnavailable');
    assert.match(config.StateReason ?? '', /gvisor driver cannot be checkpointed/);
  });
});

describe('a container-image function tagged stratus:sandbox=gvisor', { skip: NO_RUNSC }, () => {
  let s: StratusProcess;
  let registry: LocalRegistry;
  let layout: ImageLayout;
  let uri: string;
  before(async () => {
    registry = await startRegistry();
    layout = await ImageLayout.create();
    await layout.build('v1', {
      files: { ...(await nodeBaseFiles()), '/var/task/index.mjs': "import os from 'node:os';\nexport const handler = async () => ({ release: os.release(), cwd: process.cwd(), imageVar: process.env.IMAGE_VAR });\n" },
      entrypoint: NODE_ENTRYPOINT, cmd: ['index.handler'], env: ['IMAGE_VAR=from-image', 'PATH=/usr/bin:/bin'], workingDir: '/var/task',
    });
    uri = await layout.push('v1', registry, 'stratus/gvisor:v1');
    s = await startStratus();
  });
  after(async () => {
    await s?.stop();
    await registry?.stop();
    await layout?.remove();
  });

  test('runs on gVisor with its image as the root', async () => {
    await s.lambda.send(new CreateFunctionCommand({ FunctionName: 'gv-img', Role: ROLE, PackageType: 'Image', Code: { ImageUri: uri }, Tags: GVISOR }));
    const r = await invoke(s, 'gv-img');
    assert.equal(r.error, undefined, r.log);
    assert.deepEqual(r.body, { release: GVISOR_RELEASE, cwd: '/var/task', imageVar: 'from-image' });
  });
});
