// A hostile tenant, tried as an attacker would: each attack of the isolation issue runs from
// inside a real sandbox (or through the Lambda API with a valid key) and must fail. Nothing
// here changes a host setting: kernel settings are only opened for writing, never written.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
/** Where Stratus is installed (this file is dist/test/integration/). */
const INSTALL_DIR = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
const SYS_KEYCTL = 250;
const KEYCTL_GET_KEYRING_ID = 0;
const KEY_SPEC_USER_KEYRING = -4;

/** One handler, many attacks: the event names one; it reports what happened. */
const ATTACKER = `
import ctypes, errno, os, socket, subprocess, time
libc = ctypes.CDLL(None, use_errno=True)

def err(e):
    return errno.errorcode.get(e, str(e))

def open_for_write(path):
    try:
        fd = os.open(path, os.O_WRONLY)
        os.close(fd)  # opened, never written
        return 'OPENED'
    except OSError as e:
        return err(e.errno)

def runtime_api(request):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect('/run/stratus/runtime.sock')
    s.sendall(request)
    reply = s.recv(4096).decode(errors='replace')
    s.close()
    return reply.split('\\r\\n', 1)[0]

def handler(event, context):
    attack = event['attack']
    if attack == 'identity':
        return {
            'uid': os.getuid(), 'gid': os.getgid(),
            'uid_map': open('/proc/self/uid_map').read(), 'gid_map': open('/proc/self/gid_map').read(),
            'cap_eff': [l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1],
            'init_uid': [l for l in open('/proc/1/status') if l.startswith('Uid')][0].split()[1],
            'init_cap_eff': [l for l in open('/proc/1/status') if l.startswith('CapEff')][0].split()[1],
            'cgroup': open('/proc/self/cgroup').read(),
            'preload_ran': os.path.exists('/tmp/preload-ran'),
            'env': dict(os.environ),
        }
    if attack == 'sysctl':
        paths = ['/proc/sys/kernel/core_pattern', '/proc/sys/vm/panic_on_oom', '/proc/sys/kernel/modprobe',
                 '/proc/sys/net/ipv4/ip_forward', '/proc/sysrq-trigger', '/proc/self/oom_score_adj']
        return {p: open_for_write(p) for p in paths}
    if attack == 'nested-namespaces':
        CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUSER = 0x00020000, 0x02000000, 0x10000000
        rc = libc.unshare(CLONE_NEWUSER | CLONE_NEWCGROUP | CLONE_NEWNS)
        unshare = 'OK' if rc == 0 else err(ctypes.get_errno())
        os.makedirs('/tmp/cg', exist_ok=True)
        rc = libc.mount(b'cgroup', b'/tmp/cg', b'cgroup', 0, b'memory')
        mount = 'OK' if rc == 0 else err(ctypes.get_errno())
        return {'unshare': unshare, 'mount': mount}
    if attack == 'keyring':
        libc.syscall.restype = ctypes.c_long
        rc = libc.syscall(${SYS_KEYCTL}, ${KEYCTL_GET_KEYRING_ID}, ${KEY_SPEC_USER_KEYRING}, 0)
        return {'keyctl': 'OK' if rc >= 0 else err(ctypes.get_errno())}
    if attack == 'flood-runtime-api':
        socks, refused = [], 0
        for _ in range(event['connections']):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect('/run/stratus/runtime.sock')
                socks.append(s)
            except OSError:
                refused += 1
                s.close()
        time.sleep(0.5)
        still_open = 0
        for s in socks:
            s.setblocking(False)
            try:
                if s.recv(1) != b'':
                    still_open += 1
            except BlockingIOError:
                still_open += 1
            except OSError:
                pass
        time.sleep(event['hold_seconds'])
        for s in socks:
            s.close()
        return {'attempted': event['connections'], 'still_open': still_open, 'refused': refused}
    if attack == 'background-ticker':
        subprocess.Popen(['/bin/sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/ticks; echo tick $i; sleep 0.01; done'],
                         start_new_session=True, stdout=None, stderr=None)
        time.sleep(0.2)
        return {'started': True}
    if attack == 'ticks':
        # The ticker truncates the file before each write: read until a write is whole.
        for _ in range(100):
            text = open('/tmp/ticks').read().strip()
            if text:
                return {'ticks': int(text)}
            time.sleep(0.01)
        return {'ticks': None}
    if attack == 'log-flood':
        chunk = 'x' * (1024 * 1024 - 1) + '\\n'
        for _ in range(event['mb']):
            print(chunk, end='', flush=True)
        return {'written_mb': event['mb']}
    if attack == 'init':
        PTRACE_ATTACH = 16
        libc.ptrace.restype = ctypes.c_long
        rc = libc.ptrace(PTRACE_ATTACH, 1, None, None)
        ptrace = 'OK' if rc == 0 else err(ctypes.get_errno())
        try:
            open('/proc/1/environ').read()
            environ = 'READ'
        except OSError as e:
            environ = err(e.errno)
        try:
            open('/run/stratus/environ').read()
            environ_file = 'READ'
        except OSError as e:
            environ_file = err(e.errno)
        try:
            os.kill(1, 9)
        except OSError:
            pass
        time.sleep(0.2)
        return {'ptrace': ptrace, 'environ': environ, 'environ_file': environ_file, 'init_alive': os.path.exists('/proc/1')}
    if attack == 'mountinfo':
        return {'mountinfo': open('/proc/self/mountinfo').read()}
    if attack == 'malformed-runtime-api':
        post = lambda path: ('POST ' + path + ' HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 1\\r\\nConnection: close\\r\\n\\r\\nx').encode()
        return {
            'bad_escape': runtime_api(post('/2018-06-01/runtime/invocation/%E0%A4%A/response')),
            'not_mine': runtime_api(post('/2018-06-01/runtime/invocation/' + '0' * 36 + '/response')),
            'garbage': runtime_api(b'\\x00\\xff NOT HTTP\\r\\n\\r\\n'),
        }
    return {'unknown': attack}
`;

/** A shared object whose constructor marks where it ran: inside the sandbox (/tmp) or on the host. */
const PRELOAD_C = (hostMarker: string) => `
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void mark(void) {
  int fd = open("${hostMarker}", O_WRONLY | O_CREAT, 0644);
  if (fd >= 0) close(fd);
  fd = open("/tmp/preload-ran", O_WRONLY | O_CREAT, 0644);
  if (fd >= 0) close(fd);
}
`;

interface Result {
  error?: string;
  body: Record<string, unknown>;
  log: string;
}

async function invoke(s: StratusProcess, name: string, event: Record<string, unknown>): Promise<Result> {
  const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)), LogType: 'Tail' }));
  const text = Buffer.from(out.Payload ?? []).toString();
  return { error: out.FunctionError, body: JSON.parse(text || 'null') as Record<string, unknown>, log: Buffer.from(out.LogResult ?? '', 'base64').toString() };
}

/** Host pids of processes in sandboxes (another user namespace than ours) below Stratus. */
async function sandboxPids(s: StratusProcess): Promise<number[]> {
  const ours = readlinkSync('/proc/self/ns/user');
  const pids: number[] = [];
  for (const pid of await s.descendants()) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/user`) !== ours) pids.push(pid);
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

function statusField(pid: number, field: string): string[] {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`)) ?? '';
  return line.split(/\s+/).slice(1);
}

/** The host path of `pid`'s cgroup in a v1 hierarchy, or undefined. */
function cgroupOf(pid: number, controller: string): string | undefined {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller));
  return line === undefined ? undefined : join('/sys/fs/cgroup', controller, line.split(':')[2] ?? '/');
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a hostile tenant, from inside its sandbox', () => {
  let s: StratusProcess;
  const work = mkdtempSync(join(tmpdir(), 'stratus-attacks-'));
  const hostMarker = join(work, 'preload-ran-on-the-host');

  before(async () => {
    s = await startStratus();
    execFileSync('cc', ['-shared', '-fPIC', '-o', join(work, 'evil.so'), '-x', 'c', '-'], { input: PRELOAD_C(hostMarker) });
    const zip = await makeZip({ 'attack.py': ATTACKER, 'evil.so': readFileSync(join(work, 'evil.so')) });
    for (const [name, env] of [['attacker', {}], ['preloader', { LD_PRELOAD: '/var/task/evil.so' }]] as const) {
      await s.lambda.send(new CreateFunctionCommand({
        FunctionName: name, Runtime: 'python3.11', Role: ROLE, Handler: 'attack.handler', Timeout: 30, MemorySize: 128,
        Code: { ZipFile: zip }, Environment: { Variables: env },
      }));
    }
  });

  after(async () => {
    await s?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('the function environment reaches only the runtime: LD_PRELOAD from the API never runs on the host', async () => {
    const r = await invoke(s, 'preloader', { attack: 'identity' });
    assert.equal(r.error, undefined, JSON.stringify(r.body));
    assert.equal(r.body.preload_ran, true, 'LD_PRELOAD applies inside the sandbox, to the runtime');
    assert.equal(existsSync(hostMarker), false, 'the preloaded library ran in a host-side process');
  });

  test('no sandbox process has a host identity that matters: ids map to an unprivileged range, no capabilities', async () => {
    const r = await invoke(s, 'attacker', { attack: 'identity' });
    assert.equal(r.body.uid, 993);
    assert.equal(r.body.cap_eff, '0000000000000000');
    assert.equal(r.body.init_uid, '65534', 'stratus-init drops to nobody once the runtime runs');
    assert.equal(r.body.init_cap_eff, '0000000000000000');
    const hostUid = (map: string, id: number) => {
      for (const line of map.trim().split('\n')) {
        const [inside = 0, outside = 0, count = 0] = line.trim().split(/\s+/).map(Number);
        if (id >= inside && id < inside + count) return outside + (id - inside);
      }
      return undefined;
    };
    const uid = hostUid(String(r.body.uid_map), 993);
    assert.ok(uid !== undefined && uid !== 0 && uid !== process.getuid?.() && uid >= 100_000, `uid 993 is host uid ${uid}`);
    const gid = hostUid(String(r.body.gid_map), 990);
    assert.ok(gid !== undefined && gid !== 0 && gid >= 100_000, `gid 990 is host gid ${gid}`);
    // Seen from the host: every process inside a sandbox runs as an unprivileged host uid.
    const pids = await sandboxPids(s);
    assert.ok(pids.length >= 2, 'the sandbox processes are visible from the host');
    for (const pid of pids) {
      const [real, effective] = statusField(pid, 'Uid').map(Number);
      assert.ok((real ?? 0) >= 100_000 && (effective ?? 0) >= 100_000, `host pid ${pid} runs as host uid ${real}/${effective}`);
      assert.equal(statusField(pid, 'CapEff')[0], '0000000000000000', `host pid ${pid} holds capabilities`);
    }
  });

  test('kernel settings cannot be opened for writing (/proc is read-only)', async () => {
    const r = await invoke(s, 'attacker', { attack: 'sysctl' });
    for (const [path, outcome] of Object.entries(r.body)) assert.notEqual(outcome, 'OPENED', `${path} is writable`);
  });

  test('no nested user, cgroup or mount namespace: the limits cannot be remounted and lifted', async () => {
    const r = await invoke(s, 'attacker', { attack: 'nested-namespaces' });
    assert.notEqual(r.body.unshare, 'OK', 'a nested user namespace was created');
    assert.notEqual(r.body.mount, 'OK', 'a cgroup hierarchy was mounted');
  });

  test('stratus-init (pid 1) cannot be traced, read or killed by the function', async () => {
    const r = await invoke(s, 'attacker', { attack: 'init' });
    assert.equal(r.error, undefined, JSON.stringify(r.body));
    assert.notEqual(r.body.ptrace, 'OK');
    assert.notEqual(r.body.environ, 'READ', "init's environment is readable");
    assert.notEqual(r.body.environ_file, 'READ', 'the environment file is readable by the function');
    assert.equal(r.body.init_alive, true);
    const again = await invoke(s, 'attacker', { attack: 'identity' });
    assert.equal(again.error, undefined, 'the environment still serves');
  });

  test('the keyring is out of reach', async () => {
    const r = await invoke(s, 'attacker', { attack: 'keyring' });
    assert.notEqual(r.body.keyctl, 'OK');
  });

  test('the sandbox has a cgroup of its own in every hierarchy it is in, and its cgroup namespace is rooted there', async () => {
    const r = await invoke(s, 'attacker', { attack: 'identity' });
    for (const line of String(r.body.cgroup).trim().split('\n')) assert.match(line, /:\/$/, `the sandbox sees a cgroup outside its own: ${line}`);
    const v1 = ['memory', 'cpu', 'pids', 'freezer', 'blkio', 'cpuset'].filter((c) => existsSync(`/sys/fs/cgroup/${c}/cgroup.procs`));
    const [pid] = await sandboxPids(s);
    assert.ok(pid);
    for (const controller of v1) {
      const path = cgroupOf(pid, controller) ?? '';
      assert.match(path, new RegExp(`/stratus-${s.pid}/[^/]+$`), `${controller}: the sandbox sits in ${path}, not a cgroup of its own`);
    }
  });

  test('thousands of connections to the Runtime API socket are cut at a per-sandbox bound; others are served meanwhile', async () => {
    const before = readdirSync(`/proc/${s.pid}/fd`).length;
    const flood = invoke(s, 'attacker', { attack: 'flood-runtime-api', connections: 2000, hold_seconds: 2 });
    await new Promise((r) => setTimeout(r, 800));
    const during = readdirSync(`/proc/${s.pid}/fd`).length;
    const other = await invoke(s, 'preloader', { attack: 'identity' });
    assert.equal(other.error, undefined, 'another function is served during the flood');
    const r = await flood;
    assert.equal(r.error, undefined, JSON.stringify(r.body));
    assert.ok(Number(r.body.still_open) <= 32, `${String(r.body.still_open)} connections stayed open`);
    assert.ok(during - before < 200, `Stratus held ${during - before} more descriptors during the flood`);
  });

  test('malformed requests to the Runtime API are refused; the invocation they came from completes and the next is served', async () => {
    const r = await invoke(s, 'attacker', { attack: 'malformed-runtime-api' });
    assert.equal(r.error, undefined, JSON.stringify(r.body));
    assert.deepEqual([r.body.bad_escape, r.body.not_mine, r.body.garbage], ['HTTP/1.1 400 Bad Request', 'HTTP/1.1 400 Bad Request', 'HTTP/1.1 400 Bad Request']);
    const again = await invoke(s, 'attacker', { attack: 'identity' });
    assert.equal(again.error, undefined, JSON.stringify(again.body));
  });

  test('an idle environment is frozen: background work stops between invokes and goes on during the next', async () => {
    await invoke(s, 'attacker', { attack: 'background-ticker' });
    const pid = (await sandboxPids(s)).find((p) => existsSync(`/proc/${p}/root/tmp/ticks`));
    assert.ok(pid, 'the ticker sandbox is found from the host');
    const freezer = cgroupOf(pid, 'freezer');
    if (!freezer) return; // No v1 freezer hierarchy on this host.
    await until('the idle environment to freeze', () => (readFileSync(join(freezer, 'freezer.state'), 'utf8').trim() === 'FROZEN' ? true : undefined));
    const ticks = () => Number(readFileSync(`/proc/${pid}/root/tmp/ticks`, 'utf8'));
    const first = ticks();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(ticks(), first, 'a frozen environment kept working');
    const r = await invoke(s, 'attacker', { attack: 'ticks' });
    assert.ok(Number(r.body.ticks) >= first);
    await until('the ticker to go on once thawed by an invoke', () => (ticks() > first ? true : undefined));
  });

  test('a log flood is cut with a marker; the invoke completes and Stratus stays up', async () => {
    const r = await invoke(s, 'attacker', { attack: 'log-flood', mb: 48 });
    assert.equal(r.error, undefined, JSON.stringify(r.body));
    assert.match(r.log, /bytes of function output were dropped/);
    const again = await invoke(s, 'attacker', { attack: 'ticks' }).catch(() => undefined);
    assert.ok(again, 'Stratus answers after the flood');
  });

  test('no host path appears in the sandbox mountinfo: the data directory, the run directory and the installation stay unnamed', async () => {
    const r = await invoke(s, 'attacker', { attack: 'mountinfo' });
    const hostPaths = [s.dataDir, join(tmpdir(), 'stratus-run'), INSTALL_DIR];
    for (const line of String(r.body.mountinfo).trim().split('\n')) {
      const [left = '', right = ''] = line.split(' - ');
      const root = left.split(' ')[3] ?? '';
      const source = right.split(' ')[1] ?? '';
      for (const path of hostPaths) {
        assert.ok(!root.startsWith(path) && !source.startsWith(path), `the sandbox sees ${path} in: ${line}`);
      }
    }
    assert.match(String(r.body.mountinfo), / \/ \/var\/task /, '/var/task is the root of a filesystem of its own');
  });
});
