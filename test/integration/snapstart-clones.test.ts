// SnapStart's pre-restored clones: after a version's first restore the worker keeps a clone of
// it restored and frozen; the next cold start takes it, and only then does the runtime reseed
// and run its after-restore hooks. Each clone is a sandbox of its own: a hostile function's
// environment can see nothing of another clone of the same snapshot (files, processes, sockets),
// running or waiting frozen, and every clone gets its own randomness.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, PublishVersionCommand } from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/r';

/** Plants traces of itself (a /tmp file, a process, an abstract socket) and looks for other environments' traces. */
const PROBE = `
const fs = require('node:fs'), net = require('node:net'), cp = require('node:child_process'), crypto = require('node:crypto');
fs.writeFileSync('/tmp/from-init.txt', 'init');
let restored = 0, cloneId = 'none', server;
awslambda.registerAfterRestore(() => { restored++; cloneId = crypto.randomUUID(); });
const connects = (name) => new Promise((r) => { const c = net.connect('\\0planted-' + name); c.on('connect', () => { c.destroy(); r(true); }); c.on('error', () => r(false)); });
exports.handler = async (e) => {
  if (e.plant) {
    fs.writeFileSync('/tmp/planted-' + e.plant, e.plant);
    cp.spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)', 'planted-' + e.plant], { detached: true, stdio: 'ignore' }).unref();
    server = net.createServer();
    await new Promise((r) => server.listen('\\0planted-' + e.plant, r));
  }
  if (e.holdMs) await new Promise((r) => setTimeout(r, e.holdMs));
  const self = fs.readFileSync('/proc/self/cmdline', 'latin1');
  const cmdlines = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).map((p) => { try { return fs.readFileSync('/proc/' + p + '/cmdline', 'latin1'); } catch { return ''; } });
  const seen = {};
  for (const t of e.look || []) seen[t] = { file: fs.existsSync('/tmp/planted-' + t), process: cmdlines.some((c) => c.includes('planted-' + t)), socket: await connects(t) };
  return { cloneId, restored, runtimes: cmdlines.filter((c) => c === self).length, tmp: fs.readdirSync('/tmp').sort(), seen, uuid: crypto.randomUUID() };
};`;

interface Probe {
  cloneId: string; restored: number; runtimes: number; tmp: string[]; uuid: string;
  seen: Record<string, { file: boolean; process: boolean; socket: boolean }>;
}

async function invoke(s: StratusProcess, payload: unknown): Promise<{ probe: Probe; log: string }> {
  const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'probe', Qualifier: '1', LogType: 'Tail', Payload: Buffer.from(JSON.stringify(payload)) }));
  const log = Buffer.from(out.LogResult ?? '', 'base64').toString();
  assert.equal(out.FunctionError, undefined, `${Buffer.from(out.Payload ?? []).toString()}\n${log}`);
  return { probe: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Probe, log };
}

async function until(what: string, ok: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const nothing = { file: false, process: false, socket: false };

describe('SnapStart pre-restored clones', () => {
  let s: StratusProcess;
  before(async () => {
    s = await startStratus({ keepAliveMs: 60_000, args: ['--log-level', 'debug'] });
  });
  after(() => s.stop());

  test('a cold start takes a frozen clone that sees nothing of its siblings and reseeds when taken', async () => {
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'probe', Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', MemorySize: 256, Timeout: 30,
      Code: { ZipFile: await makeZip({ 'index.js': PROBE }) }, SnapStart: { ApplyOn: 'PublishedVersions' },
    }));
    await s.lambda.send(new PublishVersionCommand({ FunctionName: 'probe' }));
    await until('the snapshot', async () => (await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'probe', Qualifier: '1' }))).State !== 'Pending');
    const clonesAhead = () => s.output().split('\n').filter((l) => l.includes('SnapStart: clone restored ahead')).length;
    const taken = () => s.output().split('\n').filter((l) => l.includes('"preRestored":true')).length;

    // The first cold start restores on demand; its environment plants its traces, and sees them itself.
    const a = `a${randomUUID().slice(0, 8)}`;
    const first = await invoke(s, { plant: a, look: [a] });
    assert.match(first.log, /Restore Duration/);
    assert.deepEqual(first.probe.seen[a], { file: true, process: true, socket: true }, 'the probe finds what is there');
    assert.equal(first.probe.restored, 1);
    await until('a clone restored ahead', () => clonesAhead() >= 1);
    assert.equal(taken(), 0);

    // While the first environment is busy, a second cold start takes the frozen clone.
    const b = `b${randomUUID().slice(0, 8)}`;
    const busy = invoke(s, { holdMs: 1500, look: [a] });
    await new Promise((r) => setTimeout(r, 300));
    const second = await invoke(s, { plant: b, look: [a, b] });
    const held = await busy;
    assert.equal(taken(), 1, 'the second cold start was a pre-restored clone');
    assert.match(second.log, /RESTORE_START Runtime Version/);
    assert.match(second.log, /Restore Duration: [\d.]+ ms/);
    assert.equal(held.probe.cloneId, first.probe.cloneId, 'the busy invoke ran in the first environment');
    assert.notEqual(second.probe.cloneId, first.probe.cloneId, 'the after-restore hook ran in the clone when it was taken');
    assert.equal(second.probe.restored, 1, 'once');
    assert.notEqual(second.probe.uuid, first.probe.uuid);
    assert.deepEqual(second.probe.seen[a], nothing, 'the clone sees nothing of the first environment');
    assert.deepEqual(second.probe.seen[b], { file: true, process: true, socket: true });
    assert.deepEqual(second.probe.tmp, ['from-init.txt', `planted-${b}`], '/tmp is the snapshot\'s plus its own');
    // Neither sees another runtime: not each other, not the clone restored ahead meanwhile (frozen, waiting).
    await until('the next clone restored ahead', () => clonesAhead() >= 2);
    const third = await invoke(s, { holdMs: 10, look: [a, b] });
    assert.equal(third.probe.runtimes, 1);
    assert.equal(held.probe.runtimes, 1);
    assert.equal(second.probe.runtimes, 1);
    assert.deepEqual(held.probe.seen[a], { file: true, process: true, socket: true });

    // Five at once: two go to the idle environments; three cold starts take the next clone or restore on demand.
    const runs = await Promise.all([1, 2, 3, 4, 5].map(() => invoke(s, { holdMs: 1000, look: [a, b] })));
    const fresh = runs.filter((r) => r.probe.cloneId !== first.probe.cloneId && r.probe.cloneId !== second.probe.cloneId);
    assert.equal(fresh.length, 3);
    assert.equal(new Set(fresh.map((r) => r.probe.cloneId)).size, 3, 'every new environment ran its after-restore hook itself');
    for (const run of fresh) {
      assert.deepEqual(run.probe.seen[a], nothing);
      assert.deepEqual(run.probe.seen[b], nothing);
      assert.equal(run.probe.runtimes, 1);
      assert.deepEqual(run.probe.tmp, ['from-init.txt']);
    }
    assert.equal(taken(), 2);
  });
});

describe('SnapStart pre-restored clones on a worker with little memory', () => {
  let s: StratusProcess;
  before(async () => {
    s = await startStratus({ keepAliveMs: 60_000, args: ['--log-level', 'debug', '--worker-memory-mb', '512', '--snapstart-clones', '2'] });
  });
  after(() => s.stop());

  test('restores only the clones that fit, and drops them for another environment that needs the room', async () => {
    const count = (text: string) => s.output().split('\n').filter((l) => l.includes(text)).length;
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'probe', Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', MemorySize: 256, Timeout: 30,
      Code: { ZipFile: await makeZip({ 'index.js': PROBE }) }, SnapStart: { ApplyOn: 'PublishedVersions' },
    }));
    await s.lambda.send(new PublishVersionCommand({ FunctionName: 'probe' }));
    await until('the snapshot', async () => (await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'probe', Qualifier: '1' }))).State !== 'Pending');
    await invoke(s, {});
    // 512 MB: the environment (256) and one clone (256) fit; the second clone of --snapstart-clones 2 does not.
    await until('the refill to stop for room', () => count('SnapStart: no room for a clone') >= 1);
    await until('the clone that fits', () => count('SnapStart: clone restored ahead') >= 1);
    assert.equal(count('SnapStart: clone restored ahead'), 1, 'no clone beyond the worker\'s memory');

    // Another function needs the clone's memory: placement counts only environments, the worker drops the clone.
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'other', Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', MemorySize: 256,
      Code: { ZipFile: await makeZip({ 'index.js': 'exports.handler = async () => "ok";' }) },
    }));
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'other' }));
    assert.equal(out.FunctionError, undefined);
    assert.equal(Buffer.from(out.Payload ?? []).toString(), '"ok"');
    assert.equal(count('SnapStart: clones dropped to make room'), 1, 'the clone gave way to the new environment');
  });
});

