// The worker's caches of built code do not grow for ever (a real `stratus up`, real sandboxes):
// the code image of a replaced function, and the layer images and merged set of a function whose
// layers changed, are unmounted and deleted once no environment uses them for the cache idle
// time, while the new ones run; an entry used by a live environment (idle or busy) stays. Over
// the byte budget, unused entries go least recently used first, and another account's churn
// cannot evict an entry that a live environment uses, nor can its function write into the cache.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, PublishLayerVersionCommand, PublishVersionCommand, UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand, type LambdaClient,
} from '@aws-sdk/client-lambda';
import { clientFor, createAccount, keyOf } from '../helpers/accounts.js';
import { parseExposition, Scrape } from '../helpers/prometheus.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { until } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::000000000000:role/lambda-role';
const ADMIN = '000000000000';
const IDLE_MS = 300;

/** Reports its code's marker, what /var/task and /opt hold, after sleeping `sleepMs`; `attempts` tries to write where it must not. */
const handler = (marker: string) => `const fs = require('fs');
const initId = Math.random().toString(36).slice(2);
const attempt = (f) => { try { f(); return 'DONE'; } catch (e) { return e.code || String(e); } };
exports.handler = async (event) => {
  await new Promise((r) => setTimeout(r, event.sleepMs || 0));
  const out = { marker: ${JSON.stringify(marker)}, initId, task: fs.readdirSync('/var/task').sort(), opt: fs.readdirSync('/opt').sort() };
  if (event.layer) out.layer = require(event.layer);
  if (event.writes) out.writes = Object.fromEntries(event.writes.map((p) => [p, attempt(() => fs.writeFileSync(p, 'x'.repeat(1 << 20)))]));
  return out;
};\n`;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const mounted = (dir: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function invoke(client: LambdaClient, name: string, event: unknown = {}): Promise<Record<string, any>> {
  const out = await client.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }));
  const text = Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8');
  assert.equal(out.FunctionError, undefined, text);
  return JSON.parse(text) as Record<string, any>;
}

async function scrape(s: StratusProcess): Promise<Scrape> {
  return new Scrape(await parseExposition(await (await fetch(s.metricsUrl)).text()));
}

/** Creates `name` with `zip`; the zip's image lives at the returned directory once an environment runs it. */
async function create(s: StratusProcess, client: LambdaClient, account: string, name: string, zip: Buffer, extra: { Layers?: string[] } = {}): Promise<string> {
  await client.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: 30, Code: { ZipFile: zip }, ...extra }));
  return codeDir(s, account, zip);
}

const codeDir = (s: StratusProcess, account: string, zip: Buffer) => join(s.dataDir, 'worker', 'code', account, sha256(zip));

/** Gone: not mounted, and its directory deleted. */
const gone = (dir: string) => !mounted(join(dir, 'root')) && !existsSync(dir);

describe('worker caches: entries no environment uses are removed after the idle time', () => {
  let s: StratusProcess;
  let dataDir = '';
  /** The image of 'replaced' now (its second code), in use when the first test ends. */
  let current = '';
  const args = ['--worker-cache-idle-ms', String(IDLE_MS)];
  before(async () => {
    s = await startStratus({ keepAliveMs: 120_000, args });
    dataDir = s.dataDir;
  });
  after(async () => {
    await s?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('the code image of an environment in use stays (idle or busy); once replaced, it is unmounted and deleted and the new code runs', async () => {
    const v1 = await makeZip({ 'index.js': handler('v1') });
    const v2 = await makeZip({ 'index.js': handler('v2'), 'extra.txt': 'v2' });
    const dir1 = await create(s, s.lambda, ADMIN, 'replaced', v1);
    const first = await invoke(s.lambda, 'replaced');
    assert.equal(first.marker, 'v1');
    assert.ok(mounted(join(dir1, 'root')), 'v1 is mounted while its environment runs');
    await sleep(IDLE_MS * 5);
    assert.ok(mounted(join(dir1, 'root')) && existsSync(join(dir1, 'code.erofs')), 'an idle live environment keeps its code image well past the idle time');
    const busy = invoke(s.lambda, 'replaced', { sleepMs: IDLE_MS * 5 });
    await sleep(IDLE_MS * 3);
    assert.ok(mounted(join(dir1, 'root')), 'kept while busy');
    const warm = await busy;
    assert.deepEqual([warm.marker, warm.initId, warm.task], ['v1', first.initId, ['index.js']], 'the same environment read its /var/task after sleeping');

    await s.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'replaced', ZipFile: v2 }));
    const after = await invoke(s.lambda, 'replaced');
    assert.deepEqual([after.marker, after.task], ['v2', ['extra.txt', 'index.js']]);
    await until(() => gone(dir1), 'the replaced code image unmounted and deleted');
    current = codeDir(s, ADMIN, v2);
    assert.ok(mounted(join(current, 'root')), 'the new code stays mounted');
    assert.equal((await invoke(s.lambda, 'replaced')).marker, 'v2');
    const m = await scrape(s);
    assert.ok(m.value('stratus_worker_cache_evictions_total', { worker: 'worker-1', cache: 'code', reason: 'idle' }) >= 1);
    assert.ok(m.value('stratus_worker_cache_evicted_bytes_total', { worker: 'worker-1', cache: 'code' }) > 0);
    assert.ok(m.value('stratus_worker_cache_entries', { worker: 'worker-1', cache: 'code' }) >= 1);
    assert.ok(m.sample('stratus_worker_cache_evictions_total', { worker: 'worker-1', cache: 'chunks', reason: 'budget' }), 'the chunk cache in the same series');
  });

  it('a layer set no function uses any more is unmounted and deleted, then its layers; the new layer runs', async () => {
    const layer = async (name: string, text: string) => {
      const zip = await makeZip({ [`nodejs/node_modules/${name}/index.js`]: `module.exports = ${JSON.stringify(text)};\n` });
      const out = await s.lambda.send(new PublishLayerVersionCommand({ LayerName: name, Content: { ZipFile: zip } }));
      return { arn: out.LayerVersionArn ?? '', dir: join(s.dataDir, 'worker', 'layers', 'versions', ADMIN, sha256(zip)) };
    };
    const [first, second, third] = [await layer('first', 'one'), await layer('second', 'two'), await layer('third', 'three')];
    await create(s, s.lambda, ADMIN, 'layered', await makeZip({ 'index.js': handler('layered') }), { Layers: [first.arn, second.arn] });
    assert.equal((await invoke(s.lambda, 'layered', { layer: 'second' })).layer, 'two');
    const setName = createHash('sha256').update([sha256FromDir(first.dir), sha256FromDir(second.dir)].join(':')).digest('hex');
    const setDir = join(s.dataDir, 'worker', 'layers', 'sets', ADMIN, setName);
    assert.ok(mounted(join(setDir, 'root')), 'the merged set is mounted');
    await sleep(IDLE_MS * 4);
    assert.ok(mounted(join(setDir, 'root')) && mounted(join(first.dir, 'root')), 'kept while its environment lives');

    await s.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'layered', Layers: [third.arn] }));
    assert.equal((await invoke(s.lambda, 'layered', { layer: 'third' })).layer, 'three');
    await until(() => gone(setDir) && gone(first.dir) && gone(second.dir), 'the old layer set and its layers unmounted and deleted');
    assert.ok(mounted(join(third.dir, 'root')), 'the new layer stays mounted');
    assert.equal((await invoke(s.lambda, 'layered', { layer: 'third' })).layer, 'three');
  });

  it('a snapshot made on publish is deleted once unused; a cold start unpacks it again from the code store and restores', async () => {
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'snap', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: 30, MemorySize: 256,
      Code: { ZipFile: await makeZip({ 'index.js': handler('snap') }) }, SnapStart: { ApplyOn: 'PublishedVersions' },
    }));
    await s.lambda.send(new PublishVersionCommand({ FunctionName: 'snap' }));
    const config = await until(async () => {
      const c = await s.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'snap', Qualifier: '1' }));
      return c.State !== 'Pending' && c;
    }, 'the snapshot made');
    assert.equal(config.SnapStart?.OptimizationStatus, 'On', `${config.StateReasonCode}: ${config.StateReason}`);
    const snapshots = join(s.dataDir, 'worker', 'snapshots', ADMIN);
    const unpacked = () => (existsSync(snapshots) ? readdirSync(snapshots) : []);
    await until(() => unpacked().length === 0, 'the unused snapshot deleted');
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'snap', Qualifier: '1', LogType: 'Tail' }));
    assert.equal(out.FunctionError, undefined);
    assert.match(Buffer.from(out.LogResult ?? '', 'base64').toString(), /Restore Duration/, 'restored from the snapshot, unpacked again');
    assert.equal(unpacked().length, 1, 'kept while its clone lives');
    await sleep(IDLE_MS * 4);
    assert.equal(unpacked().length, 1);
  });

  it('after a restart, what the previous run built and no environment uses any more is deleted after the idle time', async () => {
    const left = current;
    assert.ok(existsSync(join(left, 'code.erofs')), 'built by the previous run');
    await s.kill();
    s = await startStratus({ keepAliveMs: 120_000, args, dataDir, credentials: s.credentials });
    await until(() => gone(left), "the previous run's image deleted");
    assert.equal((await invoke(s.lambda, 'replaced')).marker, 'v2', 'and built again when used');
    assert.ok(mounted(join(left, 'root')));
  });
});

/** A layer version's digest, from its image directory's name. */
function sha256FromDir(dir: string): string {
  return dir.slice(dir.lastIndexOf('/') + 1);
}

describe('worker caches over their byte budget', () => {
  let s: StratusProcess;
  let other: LambdaClient;
  let otherAccount = '';
  before(async () => {
    s = await startStratus({ keepAliveMs: 120_000, args: ['--worker-cache-mb', '1'] });
    const account = await createAccount(s.url, s.credentials, 'churner');
    otherAccount = account.AccountId;
    other = clientFor(s.url, keyOf(account));
  });
  after(async () => {
    other?.destroy();
    await s?.stop();
  });

  it("attack: another account's churn of large code evicts only unused entries, never one a live environment uses, and its function cannot write into the cache", async () => {
    const code = await makeZip({ 'index.js': handler('kept') });
    const kept = await create(s, s.lambda, ADMIN, 'kept', code);
    const before = await invoke(s.lambda, 'kept');
    // Each version of the churner's code is about 1.5 MiB of incompressible text: over the 1 MiB budget alone.
    const big = async (n: number) => makeZip({ 'index.js': handler(`churn-${n}`), 'blob.txt': randomBytes(1100 * 1024).toString('base64') });
    const zips = [await big(1), await big(2), await big(3)];
    const dirs = [await create(s, other, otherAccount, 'churn', zips[0] ?? Buffer.alloc(0))];
    const cacheRoot = join(s.dataDir, 'worker');
    const writes = ['/var/task/fill', '/opt/fill', join(cacheRoot, 'code', 'fill'), join(kept, 'fill'), join(cacheRoot, 'fill')];
    const probe = await invoke(other, 'churn', { writes });
    for (const [path, result] of Object.entries(probe.writes as Record<string, string>)) assert.ok(['EROFS', 'ENOENT', 'EACCES', 'EPERM'].includes(result), `${path}: ${result}`);
    for (const [i, zip] of zips.slice(1).entries()) {
      await other.send(new UpdateFunctionCodeCommand({ FunctionName: 'churn', ZipFile: zip }));
      assert.equal((await invoke(other, 'churn')).marker, `churn-${i + 2}`);
      dirs.push(codeDir(s, otherAccount, zip));
    }
    await until(() => gone(dirs[0] ?? '') && gone(dirs[1] ?? ''), "the churner's unused images removed over budget");
    assert.ok(mounted(join(dirs[2] ?? '', 'root')), "the churner's image in use stays, though over budget alone");
    assert.ok(mounted(join(kept, 'root')) && existsSync(join(kept, 'code.erofs')), "the other account's image in use stays");
    const again = await invoke(s.lambda, 'kept');
    assert.deepEqual([again.marker, again.initId], ['kept', before.initId], 'and its environment goes on running from it');
    const m = await scrape(s);
    assert.ok(m.value('stratus_worker_cache_evictions_total', { worker: 'worker-1', cache: 'code', reason: 'budget' }) >= 2);
    assert.equal(m.value('stratus_worker_cache_evictions_total', { worker: 'worker-1', cache: 'code', reason: 'idle' }), 0);
  });
});
