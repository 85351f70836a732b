// SnapStart for container-image functions: publish-version of an image function checkpoints it
// after its init (OptimizationStatus On), and cold starts of the version restore clones whose
// root is the worker's own lazy mount of the image (REPORT: Restore Duration). Each clone is a
// sandbox of its own (it sees no file, process or socket of another clone), and a snapshot
// whose bytes were changed on the worker is refused (the cold start boots). Attack: an image whose
// /tmp, /run and /var/rapid are symlinks to host directories never gets anything mounted there.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, PublishVersionCommand } from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { ImageLayout, NODE_ENTRYPOINT, nodeBaseFiles, startRegistry, type LocalRegistry } from '../helpers/oci.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';

const ROLE = 'arn:aws:iam::123456789012:role/r';

/** Init state and hooks, plus the clone probe of snapstart-clones.test.ts (traces planted and looked for). */
const HANDLER = `
import fs from 'node:fs';
import net from 'node:net';
import cp from 'node:child_process';
import crypto from 'node:crypto';
const initId = crypto.randomUUID();
fs.writeFileSync('/tmp/from-init.txt', initId);
const table = new Map();
for (let i = 0; i < 20000; i++) table.set('k' + i, 'row ' + i);
let restored = 0, before = 0, server;
awslambda.registerBeforeSnapshot(() => { before++; });
awslambda.registerAfterRestore(() => { restored++; });
const connects = (name) => new Promise((r) => { const c = net.connect('\\0planted-' + name); c.on('connect', () => { c.destroy(); r(true); }); c.on('error', () => r(false)); });
export const handler = async (e) => {
  if (e.plant) {
    fs.writeFileSync('/tmp/planted-' + e.plant, e.plant);
    cp.spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)', 'planted-' + e.plant], { detached: true, stdio: 'ignore' }).unref();
    server = net.createServer();
    await new Promise((r) => server.listen('\\0planted-' + e.plant, r));
  }
  if (e.holdMs) await new Promise((r) => setTimeout(r, e.holdMs));
  const cmdlines = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).map((p) => { try { return fs.readFileSync('/proc/' + p + '/cmdline', 'latin1'); } catch { return ''; } });
  const seen = {};
  for (const t of e.look || []) seen[t] = { file: fs.existsSync('/tmp/planted-' + t), process: cmdlines.some((c) => c.includes('planted-' + t)), socket: await connects(t) };
  return {
    initId, tmpFile: fs.readFileSync('/tmp/from-init.txt', 'utf8'), rows: table.size, restored, before, uuid: crypto.randomUUID(),
    initType: process.env.AWS_LAMBDA_INITIALIZATION_TYPE, imageVar: process.env.IMAGE_VAR, fromImage: fs.readFileSync('/var/task/data.txt', 'utf8'),
    tmp: fs.readdirSync('/tmp').sort(), seen,
    rootMount: fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\\n').map((l) => l.split(' ')).filter((f) => f[4] === '/').map((f) => f[5] + ' ' + f[f.indexOf('-') + 1]),
  };
};`;

interface Probe {
  initId: string; tmpFile: string; rows: number; restored: number; before: number; uuid: string; initType: string; imageVar: string; fromImage: string;
  tmp: string[]; seen: Record<string, { file: boolean; process: boolean; socket: boolean }>; rootMount: string[];
}

const nothing = { file: false, process: false, socket: false };

async function untilSettled(s: StratusProcess, name: string, version: string) {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const config = await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: version }));
    if (config.State !== 'Pending') return config;
    if (Date.now() > deadline) throw new Error('the version stayed Pending');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function invoke(s: StratusProcess, name: string, qualifier: string, payload: unknown = {}): Promise<{ probe: Probe; log: string }> {
  const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, Qualifier: qualifier, LogType: 'Tail', Payload: Buffer.from(JSON.stringify(payload)) }));
  const log = Buffer.from(out.LogResult ?? '', 'base64').toString();
  assert.equal(out.FunctionError, undefined, `${Buffer.from(out.Payload ?? []).toString()}\n${log}`);
  return { probe: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Probe, log };
}

describe('SnapStart for container-image functions', () => {
  let registry: LocalRegistry;
  let layout: ImageLayout;
  let s: StratusProcess;
  let uri = '';
  let dataDir = '';

  before(async () => {
    registry = await startRegistry();
    layout = await ImageLayout.create();
    await layout.build('v1', {
      files: { ...(await nodeBaseFiles()), '/var/task/index.mjs': HANDLER, '/var/task/data.txt': 'from the image' },
      entrypoint: NODE_ENTRYPOINT, cmd: ['index.handler'], env: ['IMAGE_VAR=image', 'PATH=/usr/bin:/bin'], workingDir: '/var/task',
    });
    uri = await layout.push('v1', registry, 'stratus/snap:v1');
    dataDir = await mkdtemp(join(tmpdir(), 'stratus-snap-images-'));
    s = await startStratus({ dataDir, keepAliveMs: 60_000, args: ['--log-level', 'debug'] });
  });
  after(async () => {
    await s?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    await registry?.stop();
    await layout?.remove();
  });

  test('publish-version (AWS CLI) snapshots the image function; cold starts restore clones that see nothing of each other', async (t) => {
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'snap-img', Role: ROLE, PackageType: 'Image', Code: { ImageUri: uri }, MemorySize: 256, Timeout: 30,
      SnapStart: { ApplyOn: 'PublishedVersions' },
    }));
    const publishedAt = Date.now();
    const published = await aws(s, ['lambda', 'publish-version', '--function-name', 'snap-img']);
    assert.equal(published.code, 0, published.stderr);
    assert.equal((JSON.parse(published.stdout) as { State: string }).State, 'Pending');
    const config = await untilSettled(s, 'snap-img', '1');
    assert.equal(config.State, 'Active', `${config.StateReasonCode}: ${config.StateReason}`);
    assert.deepEqual(config.SnapStart, { ApplyOn: 'PublishedVersions', OptimizationStatus: 'On' });
    t.diagnostic(`publish-version to OptimizationStatus On: ${Date.now() - publishedAt} ms`);

    const a = `a${randomUUID().slice(0, 8)}`;
    const first = await invoke(s, 'snap-img', '1', { plant: a, look: [a] });
    assert.match(first.log, /RESTORE_START Runtime Version/);
    assert.match(first.log, /Restore Duration: [\d.]+ ms\tBilled Restore Duration: \d+ ms/);
    assert.doesNotMatch(first.log, /Init Duration/);
    assert.equal(first.probe.rows, 20000);
    assert.equal(first.probe.tmpFile, first.probe.initId, '/tmp written during init is in the snapshot');
    assert.equal(first.probe.before, 1);
    assert.equal(first.probe.restored, 1);
    assert.equal(first.probe.initType, 'snap-start');
    assert.equal(first.probe.imageVar, 'image');
    assert.equal(first.probe.fromImage, 'from the image', 'the clone reads the image through the worker\'s mount');
    assert.deepEqual(first.probe.seen[a], { file: true, process: true, socket: true }, 'the probe finds what is there');
    assert.deepEqual(first.probe.rootMount.map((m) => m.replace(/,\S*/, '')), ['ro erofs'], 'the clone\'s root is the image, read-only, as a booted sandbox\'s');

    // A clone is restored ahead (frozen); two more cold starts at once while the first environment
    // is busy: one takes that clone, the other restores on demand, each a sandbox of its own.
    const count = (text: string) => s.output().split('\n').filter((l) => l.includes(text)).length;
    const deadline = Date.now() + 60_000;
    while (count('SnapStart: clone restored ahead') < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const busy = invoke(s, 'snap-img', '1', { holdMs: 2000 });
    await new Promise((r) => setTimeout(r, 200));
    const others = await Promise.all([1, 2].map(() => invoke(s, 'snap-img', '1', { holdMs: 500, look: [a] })));
    await busy;
    assert.ok(count('"preRestored":true') >= 1, 'a cold start took the pre-restored clone');
    t.diagnostic(`Restore Duration: ${[first, ...others].map((r) => /Restore Duration: ([\d.]+) ms/.exec(r.log)?.[1]).join(', ')} ms`);
    for (const other of others) {
      assert.match(other.log, /Restore Duration/);
      assert.equal(other.probe.initId, first.probe.initId, 'state from init is the snapshot\'s');
      assert.notEqual(other.probe.uuid, first.probe.uuid);
      assert.deepEqual(other.probe.seen[a], nothing, 'a clone sees nothing of another clone');
      assert.deepEqual(other.probe.tmp, ['from-init.txt']);
    }
  });

  test('after a restart the snapshot is fetched from the chunk store; a chunk tampered there is refused and the cold start boots', async () => {
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'snap-img-2', Role: ROLE, PackageType: 'Image', Code: { ImageUri: uri }, MemorySize: 128, Timeout: 30,
      SnapStart: { ApplyOn: 'PublishedVersions' },
    }));
    await s.lambda.send(new PublishVersionCommand({ FunctionName: 'snap-img-2' }));
    const config = await untilSettled(s, 'snap-img-2', '1');
    assert.equal(config.SnapStart?.OptimizationStatus, 'On', `${config.StateReasonCode}: ${config.StateReason}`);
    const unpacked = join(s.dataDir, 'worker', 'snapshots');
    const [account = ''] = (await readdir(unpacked)).filter((name) => /^\d{12}$/.test(name));
    const before = new Set((await readdir(join(unpacked, account))).filter((name) => /^[0-9a-f]{64}$/.test(name)));
    assert.equal(before.size, 2, 'one snapshot per version, unpacked where it was made');
    // The second version's snapshot: the one whose manifest was written last.
    const manifests = await Promise.all([...before].map(async (sha) => ({ sha, at: (await stat(join(s.dataDir, 'code', 'images', `${sha}.json`))).mtimeMs })));
    const sha = manifests.sort((x, y) => y.at - x.at)[0]?.sha ?? '';
    const manifest = JSON.parse(await readFile(join(s.dataDir, 'code', 'images', `${sha}.json`), 'utf8')) as { chunks: string[] };

    /** Restarts Stratus on its data directory without the worker's unpacked copy of the snapshot, then cold-starts version 1. */
    const restartAndInvoke = async () => {
      const credentials = s.credentials;
      await s.stop();
      await rm(join(unpacked, account, sha), { recursive: true, force: true });
      s = await startStratus({ dataDir, credentials, keepAliveMs: 60_000 });
      const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'snap-img-2', Qualifier: '1', LogType: 'Tail', Payload: Buffer.from('{}') }));
      const log = Buffer.from(out.LogResult ?? '', 'base64').toString();
      assert.equal(out.FunctionError, undefined, log);
      return { log, probe: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Probe, unpacked: await readdir(join(unpacked, account)) };
    };

    // Control: the snapshot's chunks as stored restore (the worker fetches, checks and unpacks them).
    const restored = await restartAndInvoke();
    assert.match(restored.log, /Restore Duration: [\d.]+ ms/);
    assert.equal(restored.probe.initType, 'snap-start');
    assert.ok(restored.unpacked.includes(sha), 'unpacked again from the chunk store');

    // Attack: one chunk's bytes changed, in the code store and in the worker's chunk cache alike.
    const victim = manifest.chunks[0] ?? '';
    const copies = [join(s.dataDir, 'code', 'chunks', victim.slice(0, 2), victim), join(s.dataDir, 'worker', 'chunks', account, victim)];
    let tampered = 0;
    for (const path of copies) {
      const bytes = await readFile(path).catch(() => undefined);
      if (!bytes) continue;
      bytes[4096] = (bytes[4096] ?? 0) ^ 0xff;
      await writeFile(path, bytes);
      tampered++;
    }
    assert.ok(tampered >= 1, 'the chunk is stored');
    const refused = await restartAndInvoke();
    assert.match(refused.log, /\tInit Duration: [\d.]+ ms/, 'the cold start booted');
    assert.doesNotMatch(refused.log, /Restore Duration/);
    assert.notEqual(refused.probe.initType, 'snap-start');
    assert.ok(!refused.unpacked.includes(sha), 'nothing of the tampered snapshot was unpacked');
    assert.match(s.output(), /does not match its digest: refused/);
  });

  test('attack: an image with symlinks to host directories at its mount points (/tmp, /run, /var/rapid) never gets anything mounted there', async () => {
    const targets = await Promise.all(['tmp', 'run', 'rapid'].map(async (name) => {
      const dir = await mkdtemp(join(tmpdir(), `stratus-snap-target-${name}-`));
      await writeFile(join(dir, 'host-file'), name);
      return dir;
    }));
    try {
      const [tmpTarget = '', runTarget = '', rapidTarget = ''] = targets;
      await layout.build('links', { base: 'v1', symlinks: { '/tmp': tmpTarget, '/run': runTarget, '/var/rapid': rapidTarget } });
      const linked = await layout.push('links', registry, 'stratus/snap:links');
      await s.lambda.send(new CreateFunctionCommand({
        FunctionName: 'snap-links', Role: ROLE, PackageType: 'Image', Code: { ImageUri: linked }, MemorySize: 128, Timeout: 30,
        SnapStart: { ApplyOn: 'PublishedVersions' },
      }));
      await s.lambda.send(new PublishVersionCommand({ FunctionName: 'snap-links' }));
      const config = await untilSettled(s, 'snap-links', '1');
      // The import made them plain directories: the image works as Lambda runs it, its own /tmp a tmpfs.
      assert.equal(config.SnapStart?.OptimizationStatus, 'On', `${config.StateReasonCode}: ${config.StateReason}`);
      const { probe, log } = await invoke(s, 'snap-links', '1');
      assert.match(log, /Restore Duration/);
      assert.deepEqual(probe.tmp, ['from-init.txt']);
      const hostMounts = await readFile('/proc/self/mountinfo', 'utf8');
      for (const target of targets) {
        assert.deepEqual(await readdir(target), ['host-file'], `nothing was written at ${target}`);
        assert.ok(!hostMounts.includes(target), `nothing is mounted at ${target}`);
      }
    } finally {
      await Promise.all(targets.map((d) => rm(d, { recursive: true, force: true })));
    }
  });
});
