import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NATIVE_DIR, SANDBOX_INIT, SANDBOX_INIT_DIR, type Sandbox, type SandboxDriver, type SandboxExit, type SandboxSpec } from '../../src/sandbox/index.js';

export interface SandboxDriverUnderTest {
  driver: SandboxDriver;
  /** Removes everything the driver made (cgroups, state); the suite has destroyed its sandboxes. */
  cleanup(): Promise<void>;
}

const PYTHON = '/usr/bin/python3';

/** What a user of any sandbox driver can count on (bubblewrap, gVisor). */
export function runSandboxDriverContract(opts: { name: string; newDriver: () => Promise<SandboxDriverUnderTest>; skip?: string | false }): void {
  describe(`SandboxDriver contract: ${opts.name}`, { skip: opts.skip }, () => {
    let under: SandboxDriverUnderTest;
    let dir: string;
    const live: Sandbox[] = [];

    before(async () => {
      under = await opts.newDriver();
      dir = mkdtempSync(join(tmpdir(), 'stratus-sbx-contract-'));
    });
    after(async () => {
      await Promise.all(live.map((s) => s.destroy()));
      await under?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    /** A sandbox with its own task and control dirs; `command` runs under stratus-init (pid 1), as the worker runs a runtime. */
    const start = async (command: string[], extra: Partial<SandboxSpec> = {}) => {
      const id = randomUUID();
      const taskDir = join(dir, `${id}-task`);
      const controlDir = join(dir, id.slice(0, 8));
      mkdirSync(taskDir);
      mkdirSync(controlDir, { mode: 0o755 });
      writeFileSync(join(taskDir, 'hello.txt'), 'hello from the task\n');
      chmodSync(taskDir, 0o755);
      const spec: SandboxSpec = {
        id, taskDir, controlDir, command: [SANDBOX_INIT, '127.0.0.1', '9001', '/run/stratus/runtime.sock', '--', ...command], binds: [{ source: NATIVE_DIR, target: SANDBOX_INIT_DIR }],
        env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' }, memoryMb: 128, tmpSizeMb: 8, network: 'none', ...extra,
      };
      const sandbox = await under.driver.create(spec);
      live.push(sandbox);
      let out = '';
      sandbox.stdout.on('data', (d: Buffer) => (out += d.toString()));
      sandbox.stderr.on('data', (d: Buffer) => (out += d.toString()));
      return { sandbox, spec, output: () => out };
    };
    const run = async (command: string[], extra: Partial<SandboxSpec> = {}): Promise<{ exit: SandboxExit; out: string; sandbox: Sandbox }> => {
      const { sandbox, output } = await start(command, extra);
      const exit = await withTimeout(sandbox.exited, 60_000, 'the sandbox did not exit');
      return { exit, out: output(), sandbox };
    };
    const sh = (script: string) => ['/bin/sh', '-c', script];
    const py = (code: string) => [PYTHON, '-c', code];

    it('runs the command with exactly the spec environment, as a uid that is not root', async () => {
      const marker = `m-${randomUUID()}`;
      process.env.STRATUS_CONTRACT_HOST_ONLY = marker;
      try {
        const env = { PATH: '/usr/bin:/bin', FUNCTION_SECRET: marker, EMPTY: '' };
        const { exit, out } = await run(['/usr/bin/env', '-0'], { env });
        assert.equal(exit.code, 0, out);
        const seen = Object.fromEntries(out.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
        // bwrap sets PWD for its --chdir; an OCI runtime adds HOME=/ when the spec has none (as runc
        // does). Nothing else may appear, the host's variables least of all.
        const { HOME, PWD, ...rest } = seen;
        assert.ok(HOME === undefined || HOME === '/', `HOME=${HOME}`);
        assert.ok(PWD === undefined || PWD === '/var/task', `PWD=${PWD}`);
        assert.deepEqual(rest, env);
        const ids = await run(sh('id -u; id -g'));
        assert.deepEqual(ids.out.trim().split('\n').map(Number).map((n) => n === 0), [false, false], ids.out);
      } finally {
        delete process.env.STRATUS_CONTRACT_HOST_ONLY;
      }
    });

    it('gives /var/task read-only and readable, and the working directory /var/task', async () => {
      const { exit, out } = await run(sh('pwd; cat /var/task/hello.txt; echo x > /var/task/new && echo WROTE; echo x > /usr/stratus-probe && echo WROTE-USR; exit 0'));
      assert.equal(exit.code, 0, out);
      assert.match(out, /^\/var\/task$/m);
      assert.match(out, /hello from the task/);
      assert.doesNotMatch(out, /WROTE/);
      assert.match(out, /(Read-only file system|Permission denied)/);
    });

    it('gives a writable /tmp that fills up at tmpSizeMb with ENOSPC', async () => {
      const code = [
        'import errno, json', 'n = 0', 'f = open("/tmp/fill", "wb", buffering=0)',
        'try:', '  while n < 64:', '    f.write(b"x" * (1 << 20)); n += 1', 'except OSError as e:', '  print(json.dumps({"errno": e.errno, "mb": n}))',
        'else:', '  print(json.dumps({"errno": 0, "mb": n}))',
      ].join('\n');
      const { exit, out } = await run(py(code), { tmpSizeMb: 8 });
      assert.equal(exit.code, 0, out);
      const r = JSON.parse(out) as { errno: number; mb: number };
      assert.equal(r.errno, 28, `ENOSPC expected: ${out}`);
      assert.ok(r.mb >= 6 && r.mb <= 8, `wrote ${r.mb} MB into an 8 MB /tmp`);
    });

    it('reports the exit status of its runtime', async () => {
      assert.equal((await run(sh('exit 7'))).exit.code, 7);
      const ok = await run(sh('exit 0'));
      assert.equal(ok.exit.code, 0);
      assert.equal(ok.exit.oomKilled, false);
    });

    it('destroy() ends the whole tree, a background child too, and exited settles', async () => {
      const tag = `${4000 + Math.floor(Math.random() * 1000)}.25`;
      const { sandbox, spec, output } = await start(sh(`sleep ${tag} & echo started; wait`));
      await waitFor(() => output().includes('started'), 30_000, 'the sandbox did not start');
      await withTimeout(sandbox.destroy(), 30_000, 'destroy() hung');
      const exit = await withTimeout(sandbox.exited, 5000, 'exited did not settle');
      assert.ok(exit.signal !== null || exit.code !== 0, `a destroyed sandbox does not exit cleanly: ${JSON.stringify(exit)}`);
      const left = hostProcesses().filter((p) => p.cmdline.includes(`sleep ${tag}`) || p.cmdline.includes(spec.id));
      assert.deepEqual(left, [], 'no process of the sandbox is left on the host');
      await sandbox.destroy(); // idempotent
    });

    it('freeze() stops every process until thaw(), and a frozen sandbox can be destroyed', async () => {
      const { sandbox, output } = await start(sh('while true; do echo tick; sleep 0.05; done'));
      const ticks = () => output().split('tick').length - 1;
      await waitFor(() => ticks() >= 2, 30_000, 'the sandbox did not start ticking');
      await sandbox.freeze();
      const frozenAt = ticks();
      await new Promise((r) => setTimeout(r, 400));
      assert.ok(ticks() <= frozenAt + 1, `no output while frozen (${frozenAt} then ${ticks()})`);
      await sandbox.thaw();
      await waitFor(() => ticks() >= frozenAt + 3, 10_000, 'ticking did not resume after thaw()');
      await sandbox.freeze();
      await withTimeout(sandbox.destroy(), 30_000, 'destroy() of a frozen sandbox hung');
      await withTimeout(sandbox.exited, 5000, 'exited did not settle');
    });

    it('ends with oomKilled when the command uses more than memoryMb', async () => {
      const code = 'keep = []\nfor i in range(256):\n  keep.append(bytes([i % 251 + 1]) * (1 << 20))\nprint("allocated", len(keep))';
      const { exit, out, sandbox } = await run(py(code), { memoryMb: 64 });
      assert.equal(exit.oomKilled, true, `${JSON.stringify(exit)}: ${out}`);
      assert.doesNotMatch(out, /allocated 256/);
      assert.ok(sandbox.peakMemoryBytes() > 32 * 1024 * 1024, `peak ${sandbox.peakMemoryBytes()}`);
    });

    it('has only a loopback interface, and no route to TCP ports of the host', async () => {
      const server = await listen(createServer((c) => c.end('host secret\n')), { port: 0, host: '127.0.0.1' });
      try {
        const port = (server.address() as { port: number }).port;
        const code = [
          'import socket, json', 'names = [n for _, n in socket.if_nameindex()]', 'r = "connected"',
          'try:', `  s = socket.create_connection(("127.0.0.1", ${port}), timeout=3); r += ":" + s.recv(64).decode()`,
          'except OSError as e:', '  r = "refused:%s" % e.errno', 'print(json.dumps({"names": names, "tcp": r}))',
        ].join('\n');
        const { exit, out } = await run(py(code));
        assert.equal(exit.code, 0, out);
        const r = JSON.parse(out) as { names: string[]; tcp: string };
        assert.deepEqual(r.names, ['lo']);
        assert.match(r.tcp, /^refused:/);
      } finally {
        await close(server);
      }
    });

    it('reaches a Unix socket in its control directory at /run/stratus', async () => {
      const { sandbox, spec, output } = await start(py([
        'import socket, time, os', 'p = "/run/stratus/test.sock"',
        'for i in range(200):', '  if os.path.exists(p): break', '  time.sleep(0.05)',
        's = socket.socket(socket.AF_UNIX)', 's.connect(p)', 's.sendall(b"ping\\n")', 'print("reply", s.recv(64).decode().strip())',
      ].join('\n')));
      const server = await listen(createServer((c) => c.once('data', (d) => c.end(`pong ${d.toString().trim()}\n`))), join(spec.controlDir, 'test.sock'));
      try {
        chmodSync(join(spec.controlDir, 'test.sock'), 0o666);
        const exit = await withTimeout(sandbox.exited, 60_000, 'the sandbox did not exit');
        assert.equal(exit.code, 0, output());
        assert.match(output(), /reply pong ping/);
      } finally {
        await close(server);
      }
    });

    it('reports its peak memory', async () => {
      const { exit, out, sandbox } = await run(py('b = b"x" * (24 << 20); print(len(b))'));
      assert.equal(exit.code, 0, out);
      assert.ok(sandbox.peakMemoryBytes() >= 24 * 1024 * 1024, `peak ${sandbox.peakMemoryBytes()}`);
    });
  });
}

/** Every host process with its command line (processes that vanish while listed are skipped). */
export function hostProcesses(): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      out.push({ pid: Number(name), cmdline: readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ') });
    } catch {
      /* gone */
    }
  }
  return out;
}

function listen(server: Server, where: { port: number; host: string } | string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (typeof where === 'string') server.listen(where, () => resolve(server));
    else server.listen(where.port, where.host, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(check: () => boolean, ms: number, message: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((r) => setTimeout(r, 20));
  }
}
