// What a function can see of the world: it inspects its own sandbox and returns the facts.
// pid/uts/user/net/mount isolation, read-only code, a sized /tmp, Lambda's environment and
// nothing of the host's processes, files, network or environment variables.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { CreateFunctionCommand, InvokeCommand, type CreateFunctionCommandInput } from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';
import { NODE_PROBE_HELPERS } from '../helpers/probes.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const HOST_SECRET = `host-only-${Math.random().toString(36).slice(2)}`;

/** Reports facts about the sandbox it runs in. Targets to probe come in the event. */
const INSPECTOR = `
const fs = require('fs'), os = require('os'), net = require('net');
${NODE_PROBE_HELPERS}
exports.handler = async (event) => {
  const tmp = fs.statfsSync('/tmp');
  return {
    pid: process.pid,
    ppid: process.ppid,
    initComm: attempt(() => fs.readFileSync('/proc/1/comm', 'utf8').trim()),
    hostname: os.hostname(),
    uid: process.getuid(), gid: process.getgid(), euid: process.geteuid(),
    writeTask: attempt(() => fs.writeFileSync('/var/task/new-file', 'x')),
    writeRuntime: attempt(() => fs.writeFileSync('/var/runtime/new-file', 'x')),
    writeOpt: attempt(() => fs.writeFileSync('/opt/new-file', 'x')),
    optEntries: attempt(() => fs.readdirSync('/opt')),
    writeTmp: attempt(() => { fs.writeFileSync('/tmp/probe', 'hello'); return fs.readFileSync('/tmp/probe', 'utf8'); }),
    tmpBytes: tmp.blocks * tmp.bsize,
    procPids: fs.readdirSync('/proc').filter((e) => /^\\d+$/.test(e)).map(Number),
    dataDirExists: fs.existsSync(event.dataDir),
    hostPidVisible: fs.existsSync('/proc/' + event.hostPid),
    root: attempt(() => fs.readdirSync('/root')),
    home: attempt(() => fs.readdirSync('/home')),
    interfaces: Object.keys(os.networkInterfaces()),
    toStratus: await connect('127.0.0.1', event.stratusPort),
    toHostLoopback: await connect('127.0.0.1', event.listenerPort),
    toHostAddress: event.hostAddress ? await connect(event.hostAddress, event.listenerPort) : null,
    env: process.env,
  };
};`;

interface Attempt {
  ok: boolean;
  value?: unknown;
  code?: string;
}

interface Facts {
  pid: number;
  ppid: number;
  initComm: Attempt;
  writeOpt: Attempt;
  optEntries: Attempt;
  hostname: string;
  uid: number;
  gid: number;
  euid: number;
  writeTask: Attempt;
  writeRuntime: Attempt;
  writeTmp: Attempt;
  tmpBytes: number;
  procPids: number[];
  dataDirExists: boolean;
  hostPidVisible: boolean;
  root: Attempt;
  home: Attempt;
  interfaces: string[];
  toStratus: string;
  toHostLoopback: string;
  toHostAddress: string | null;
  env: Record<string, string>;
}

const MB = 1024 * 1024;

function hostIpv4(): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

describe('sandbox isolation, seen from inside the function', () => {
  let s: StratusProcess;
  let listener: Server;
  let listenerPort = 0;
  let facts: Facts;

  async function inspect(name: string, opts: Partial<CreateFunctionCommandInput>): Promise<Facts> {
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: name, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Timeout: 15,
      Code: { ZipFile: await makeZip({ 'index.js': INSPECTOR }) }, ...opts,
    }));
    const event = { dataDir: s.dataDir, hostPid: s.pid, stratusPort: s.port, listenerPort, hostAddress: hostIpv4() };
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }));
    const text = Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8');
    assert.equal(out.FunctionError, undefined, text);
    return JSON.parse(text) as Facts;
  }

  before(async () => {
    s = await startStratus({ env: { STRATUS_TEST_SECRET: HOST_SECRET } });
    // A host service that is reachable from the host on every address: the sandbox must not reach it.
    listener = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => listener.listen(0, '0.0.0.0', resolve));
    listenerPort = (listener.address() as { port: number }).port;
    facts = await inspect('sbx-inspect', { Environment: { Variables: { MY_SETTING: 'mine', ANOTHER: 'two' } } });
  });

  after(async () => {
    await s?.stop();
    await new Promise<void>((resolve) => (listener ? listener.close(() => resolve()) : resolve()));
  });

  test('the runtime runs under stratus-init, pid 1 of its own pid namespace, and has its own hostname', () => {
    assert.equal(facts.ppid, 1);
    assert.equal(facts.pid, 2);
    assert.deepEqual(facts.initComm, { ok: true, value: 'stratus-init' });
    assert.notEqual(facts.hostname, hostname(), 'the sandbox shares the host name');
    assert.ok(facts.hostname.length > 0);
  });

  test('the function runs as uid 993, not root', () => {
    assert.equal(facts.uid, 993);
    assert.equal(facts.euid, 993);
    assert.notEqual(facts.gid, 0);
  });

  test('/opt exists for layers, empty and not writable by the function', () => {
    assert.deepEqual(facts.optEntries, { ok: true, value: [] });
    assert.equal(facts.writeOpt.ok, false);
  });

  test('/var/task and /var/runtime are read-only; /tmp is writable', () => {
    assert.deepEqual(facts.writeTask, { ok: false, code: 'EROFS' });
    assert.deepEqual(facts.writeRuntime, { ok: false, code: 'EROFS' });
    assert.deepEqual(facts.writeTmp, { ok: true, value: 'hello' });
  });

  test('/tmp is a 512 MB filesystem by default, and EphemeralStorage 1024 makes it 1024 MB', async () => {
    assert.equal(facts.tmpBytes, 512 * MB);
    const bigger = await inspect('sbx-storage', { EphemeralStorage: { Size: 1024 } });
    assert.equal(bigger.tmpBytes, 1024 * MB);
  });

  test('host processes are invisible: /proc lists only the sandbox', () => {
    assert.ok(facts.procPids.includes(1));
    assert.ok(facts.procPids.length <= 3, `sandbox sees ${facts.procPids.length} processes: ${facts.procPids.join(' ')}`);
    assert.equal(facts.hostPidVisible, false, "the Stratus process's pid is visible");
  });

  test('host files are invisible: no Stratus data directory, no /root, no /home', () => {
    assert.equal(facts.dataDirExists, false, 'the Stratus data directory is visible');
    assert.equal(facts.root.ok && (facts.root.value as string[]).length > 0, false, `/root is readable: ${JSON.stringify(facts.root)}`);
    assert.equal(facts.home.ok && (facts.home.value as string[]).length > 0, false, `/home is readable: ${JSON.stringify(facts.home)}`);
  });

  test('no network: only lo, Stratus and host services are unreachable', () => {
    assert.deepEqual(facts.interfaces, ['lo']);
    assert.equal(facts.toStratus, 'ECONNREFUSED', 'the Stratus API port is reachable from the sandbox');
    assert.equal(facts.toHostLoopback, 'ECONNREFUSED', "the host's loopback is reachable from the sandbox");
    if (hostIpv4()) assert.notEqual(facts.toHostAddress, 'CONNECTED', "the host's address is reachable from the sandbox");
  });

  test("Lambda's environment variables are set, with the function's own", () => {
    const env = facts.env;
    assert.equal(env.AWS_LAMBDA_FUNCTION_NAME, 'sbx-inspect');
    assert.equal(env.AWS_LAMBDA_FUNCTION_VERSION, '$LATEST');
    assert.equal(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, '128');
    assert.match(env.AWS_LAMBDA_RUNTIME_API ?? '', /^[^:]+:\d+$/);
    assert.equal(env._HANDLER, 'index.handler');
    assert.equal(env.LAMBDA_TASK_ROOT, '/var/task');
    assert.equal(env.AWS_REGION, 'us-east-1');
    assert.equal(env.AWS_LAMBDA_LOG_GROUP_NAME, '/aws/lambda/sbx-inspect');
    assert.match(env.AWS_LAMBDA_LOG_STREAM_NAME ?? '', /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    assert.equal(env.AWS_EXECUTION_ENV, 'AWS_Lambda_nodejs20.x');
    assert.equal(env.MY_SETTING, 'mine');
    assert.equal(env.ANOTHER, 'two');
  });

  test("the host's environment is not visible (no secret, no Stratus credentials)", () => {
    const env = facts.env;
    assert.equal(env.STRATUS_TEST_SECRET, undefined);
    assert.equal(env.STRATUS_SECRET_ACCESS_KEY, undefined);
    assert.equal(env.STRATUS_ACCESS_KEY_ID, undefined);
    const leaked = Object.entries(env).filter(([, v]) => v.includes(HOST_SECRET) || v.includes(s.credentials.secretAccessKey));
    assert.deepEqual(leaked, []);
    for (const key of ['HOME', 'USER', 'SSH_AUTH_SOCK', 'NODE_OPTIONS']) {
      if (process.env[key] !== undefined) assert.notEqual(env[key], process.env[key], `host ${key} leaked into the sandbox`);
    }
  });
});
