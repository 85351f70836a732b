import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { resolveConfig } from '../shared/config.js';
import { BubblewrapSandboxDriver } from './bubblewrap-driver.js';
import { detectCgroups } from './cgroups.js';
import { CriuSnapshots } from './criu.js';
import { loadSeccompFilter, unfilteredProcess, type SeccompFilter } from './seccomp.js';

/**
 * Tries each call in a forked child (so that a call that succeeds, such as unshare, changes
 * nothing for the next) with harmless arguments: where the kernel would act, it fails or does
 * nothing (a bad path, a bad command, a NULL pointer). Prints {call: "ok" | errno name}.
 */
const PROBE = String.raw`
import ctypes, errno, json, os, platform, socket, subprocess, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {
  'x86_64': dict(unshare=272, setns=308, clone=56, clone3=435, mount=165, umount2=166, pivot_root=155, chroot=161,
    keyctl=250, add_key=248, request_key=249, bpf=321, init_module=175, finit_module=313, reboot=169,
    perf_event_open=298, userfaultfd=323, open_tree=428, fsopen=430, io_uring_setup=425, personality=135,
    name_to_handle_at=303, settimeofday=164, clock_settime=227, adjtimex=159),
  'aarch64': dict(unshare=97, setns=268, clone=220, clone3=435, mount=40, umount2=39, pivot_root=41, chroot=51,
    keyctl=219, add_key=217, request_key=218, bpf=280, init_module=105, finit_module=273, reboot=142,
    perf_event_open=241, userfaultfd=282, open_tree=428, fsopen=430, io_uring_setup=425, personality=92,
    name_to_handle_at=264, settimeofday=170, clock_settime=112, adjtimex=171),
}[platform.machine()]
CALLS = {
  'unshare(CLONE_NEWUSER)': ('unshare', 0x10000000),
  'unshare(CLONE_NEWUSER|CLONE_NEWCGROUP|CLONE_NEWNS)': ('unshare', 0x10000000 | 0x02000000 | 0x20000),
  'clone(CLONE_NEWUSER)': ('clone', 0x10000000 | 17, 0, 0, 0, 0),
  'clone(CLONE_NEWNET)': ('clone', 0x40000000 | 17, 0, 0, 0, 0),
  'clone3': ('clone3', None, 88),
  'setns': ('setns', -1, 0),
  'mount': ('mount', None, b'/nonexistent', None, 0, None),
  'umount2': ('umount2', b'/', 0xffff),
  'pivot_root': ('pivot_root', b'/nonexistent', b'/nonexistent'),
  'chroot': ('chroot', b'/nonexistent'),
  'open_tree': ('open_tree', -1, b'/nonexistent', 0),
  'fsopen': ('fsopen', b'nonexistentfs', 0),
  'keyctl': ('keyctl', 9999, 0, 0, 0, 0),
  'add_key': ('add_key', None, None, None, 0, 0),
  'request_key': ('request_key', None, None, None, 0),
  'bpf': ('bpf', 9999, None, 0),
  'init_module': ('init_module', None, 0, None),
  'finit_module': ('finit_module', -1, None, 0),
  'reboot': ('reboot', 0, 0, 0, None),
  'perf_event_open': ('perf_event_open', None, 0, -1, -1, 0),
  'userfaultfd': ('userfaultfd', 1),
  'io_uring_setup': ('io_uring_setup', 1, None),
  'name_to_handle_at': ('name_to_handle_at', -100, b'/', None, None, 0),
  'settimeofday': ('settimeofday', None, None),
  'clock_settime': ('clock_settime', 0, None),
  'adjtimex': ('adjtimex', None),
  'personality(ADDR_NO_RANDOMIZE)': ('personality', 0x0040000),
  'personality(query)': ('personality', 0xffffffff),
  'clone(plain fork)': ('clone', 17, 0, 0, 0, 0),
}
def attempt(name, *args):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        ctypes.set_errno(0)
        ret = libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
        if ret == 0 and name == 'clone':
            os._exit(0)  # the child of an allowed clone leaves at once
        os.write(w, ('ok' if ret >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))).encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    out = os.read(r, 100).decode()
    os.close(r)
    return out
result = {label: attempt(*call) for label, call in CALLS.items()}
if platform.machine() == 'x86_64':
    x32 = subprocess.run([sys.executable, '-c', 'import ctypes; ctypes.CDLL(None).syscall(0x40000000 | 39)'])
    result['x32 getpid'] = 'signal %d' % -x32.returncode if x32.returncode < 0 else 'exit %d' % x32.returncode
t = threading.Thread(target=lambda: None); t.start(); t.join()
result['thread'] = 'ok'
pid = os.fork()
if pid == 0: os._exit(7)
result['fork'] = 'exit %d' % os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
result['exec'] = subprocess.run(['/bin/sh', '-c', 'echo hi'], capture_output=True, text=True).stdout.strip()
result['node'] = subprocess.run([sys.argv[1], '-e', 'require("worker_threads"); console.log(require("os").cpus().length > 0)'], capture_output=True, text=True).stdout.strip()
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
cli = socket.create_connection(srv.getsockname()); conn, _ = srv.accept(); cli.sendall(b'ping')
result['loopback'] = conn.recv(4).decode()
result['Seccomp'] = [l.split(':')[1].strip() for l in open('/proc/self/status') if l.startswith('Seccomp:')][0]
print(json.dumps(result))
`;

/** Refused by the filter; for these the kernel itself answers otherwise here (see `control`). */
const REFUSED = [
  'unshare(CLONE_NEWUSER)', 'unshare(CLONE_NEWUSER|CLONE_NEWCGROUP|CLONE_NEWNS)', 'clone(CLONE_NEWUSER)', 'setns', 'mount', 'umount2', 'chroot',
  'open_tree', 'keyctl', 'add_key', 'request_key', 'bpf', 'perf_event_open', 'userfaultfd', 'io_uring_setup', 'name_to_handle_at',
  'clock_settime', 'adjtimex', 'personality(ADDR_NO_RANDOMIZE)',
];
/** Refused by the filter, and by the kernel to an unprivileged process anyway (or not built in). */
const REFUSED_TWICE = ['clone(CLONE_NEWNET)', 'pivot_root', 'fsopen', 'init_module', 'finit_module', 'reboot', 'settimeofday'];

let scratch = '';
let filter: SeccompFilter;
const cgroups = detectCgroups(`stratus-seccomp-test-${process.pid}`);

before(async () => {
  filter = await loadSeccompFilter();
  scratch = await mkdtemp(join(tmpdir(), 'stratus-seccomp-test-'));
  for (const dir of ['task', 'control']) await mkdir(join(scratch, dir), { mode: 0o755 });
  await writeFile(join(scratch, 'task', 'probe.py'), PROBE);
});

after(async () => {
  await cgroups.cleanup();
  await rm(scratch, { recursive: true, force: true });
});

function startSandbox(id: string, command: string[]) {
  const config = resolveConfig({}).sandbox;
  const driver = new BubblewrapSandboxDriver({ ...config, cgroups, seccomp: filter, extraReadOnlyPaths: [config.nodePath] });
  return driver.create({
    id, taskDir: join(scratch, 'task'), controlDir: join(scratch, 'control'), command, env: { PATH: '/usr/bin:/bin' },
    memoryMb: 256, tmpSizeMb: 16, network: 'none',
  });
}

/** The probe in a real sandbox of the driver (ordinary layout, the filter applied by bwrap). */
async function probeInSandbox(): Promise<Record<string, string>> {
  const sandbox = await startSandbox(`seccomp-test-${process.pid}`, ['/usr/bin/python3', '/var/task/probe.py', resolveConfig({}).sandbox.nodePath]);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  sandbox.stdout.on('data', (d: Buffer) => out.push(d));
  sandbox.stderr.on('data', (d: Buffer) => err.push(d));
  const exit = await sandbox.exited;
  assert.equal(exit.code, 0, `probe failed: ${Buffer.concat(err).toString()}`);
  return JSON.parse(Buffer.concat(out).toString()) as Record<string, string>;
}

/** The same probe under bwrap with the same identity but no filter: what the kernel alone answers. */
function probeUnfiltered(): Promise<Record<string, string>> {
  const { bwrapPath, nodePath } = resolveConfig({}).sandbox;
  const args = ['--unshare-user', '--unshare-cgroup-try', '--uid', '993', '--gid', '990', '--new-session', '--unshare-pid', '--unshare-net',
    '--die-with-parent', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev',
    '--', '/usr/bin/python3', join(scratch, 'task', 'probe.py'), nodePath];
  return new Promise((resolve, reject) => {
    const child = spawn(bwrapPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { PATH: '/usr/bin:/bin' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Record<string, string>) : reject(new Error(`unfiltered probe exited ${code}`))));
  });
}

it('refuses namespaces, mounts, keyrings, bpf, modules, reboot and the like inside a real sandbox, and ordinary work goes on', async () => {
  const [filtered, control] = await Promise.all([probeInSandbox(), probeUnfiltered()]);
  assert.equal(filtered.Seccomp, '2', 'the sandbox runs under a seccomp filter');
  assert.equal(control.Seccomp, '0');
  for (const call of REFUSED) {
    assert.equal(filtered[call], 'EPERM', `${call} is refused by the filter`);
    assert.notEqual(control[call], 'EPERM', `${call}: without the filter the kernel answers otherwise, so the filter is what refuses it`);
  }
  for (const call of REFUSED_TWICE) assert.equal(filtered[call], 'EPERM', `${call} is refused`);
  assert.equal(filtered.clone3, 'ENOSYS', 'clone3 looks absent, so that the C library falls back to clone');
  assert.equal(control.clone3, 'EFAULT');
  if (process.arch === 'x64') assert.equal(filtered['x32 getpid'], 'signal 31', 'a syscall of another ABI kills the process (SIGSYS)');
  assert.deepEqual(
    { fork: filtered.fork, plainClone: filtered['clone(plain fork)'], personality: filtered['personality(query)'], thread: filtered.thread, exec: filtered.exec, node: filtered.node, loopback: filtered.loopback },
    { fork: 'exit 7', plainClone: 'ok', personality: 'ok', thread: 'ok', exec: 'hi', node: 'true', loopback: 'ping' },
  );
});

it('finds a process without a filter in a tree (how a SnapStart clone is checked), and none in a sandbox', async () => {
  const sandbox = await startSandbox(`seccomp-tree-${process.pid}`, ['/bin/sh', '-c', 'sleep 30 & sleep 30 & wait']);
  try {
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(unfilteredProcess(sandbox.pid), undefined);
    assert.equal(unfilteredProcess(process.pid), process.pid, 'this test process has no filter');
  } finally {
    await sandbox.destroy();
  }
});

it('a SnapStart snapshot whose images hold no seccomp filter is not restored', async (t) => {
  const config = resolveConfig({}).sandbox;
  const snapshots = new CriuSnapshots({ criuPath: config.criuPath, sandbox: { ...config, cgroups }, stateDir: join(scratch, 'criu') });
  const unavailable = await snapshots.unavailableReason();
  if (unavailable) return t.skip(unavailable);
  const image = join(scratch, 'old-snapshot');
  await mkdir(join(image, 'img'), { recursive: true });
  await writeFile(join(image, 'snapshot.json'), JSON.stringify({ external: [] }));
  const spec = { id: 'old-snapshot', taskDir: join(scratch, 'task'), controlDir: join(scratch, 'control'), command: [], env: {}, memoryMb: 128, tmpSizeMb: 16, network: 'none' as const };
  await assert.rejects(snapshots.restore(spec, { dir: image }), { code: 'SnapshotFailed', message: /made without a seccomp filter/ });
});

it('fails loudly when the filter program is missing', async () => {
  await assert.rejects(loadSeccompFilter(join(tmpdir(), 'no-such-stratus-seccomp')), { code: 'SandboxCreateFailed', message: /missing/ });
});
