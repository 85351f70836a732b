// Code garbage collection on one machine, through the AWS CLI against a real `stratus up`: what
// no function, version or layer of any account uses leaves the code store on disk (promptly
// after the call that dropped it, and a grace period after the next start for what a killed
// process left), what another account still uses stays, a blob uploaded or first seen unused
// within the grace period stays, and TotalCodeSize counts what the account's documents hold.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAccount, keyOf, type AccountKey, type Key } from '../helpers/accounts.js';
import { aws } from '../helpers/aws-cli.js';
import { ROLE } from '../helpers/lambda-api.js';
import { parseExposition, Scrape } from '../helpers/prometheus.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { until } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

const hex = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const HOUR = 3_600_000;

/** The code store's blobs on disk: sha256 → size. */
async function blobsOnDisk(dataDir: string): Promise<Map<string, number>> {
  const dir = join(dataDir, 'code', 'sha256');
  const found = new Map<string, number>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    // A blob the collector deletes between the listing and its stat is gone: not on disk.
    const size = await stat(join(dir, name)).then((st) => st.size, (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (size !== undefined) found.set(name, size);
  }
  return found;
}

const sorted = (keys: Iterable<string>) => [...keys].sort();

/** Sweeps the collector completed (its metric). */
async function sweeps(stratus: StratusProcess): Promise<number> {
  const scrape = new Scrape(await parseExposition(await (await fetch(stratus.metricsUrl)).text()));
  return scrape.value('stratus_code_gc_sweeps_total', {});
}

/**
 * Resolves once a sweep that began after now has completed: `change(n)` changes a document (a
 * sweep follows it), twice, each time waiting for the count to rise, so that the second rise
 * is a sweep that cannot have begun before the first change.
 */
async function aSweepAfter(stratus: StratusProcess, change: (n: number) => Promise<unknown>): Promise<void> {
  for (let n = 0; n < 2; n++) {
    const done = await sweeps(stratus);
    await change(n);
    await until(async () => (await sweeps(stratus)) > done, 'a sweep after the change');
  }
}

/** Waits until exactly `expected` blobs are on disk (a sweep runs shortly after each change once past grace). */
async function untilOnDisk(dataDir: string, expected: Buffer[], what: string): Promise<void> {
  const want = sorted(new Set(expected.map(hex)));
  await until(async () => JSON.stringify(sorted((await blobsOnDisk(dataDir)).keys())) === JSON.stringify(want), what).catch(async (err: unknown) => {
    assert.deepEqual(sorted((await blobsOnDisk(dataDir)).keys()), want, what);
    throw err;
  });
}

/** `aws lambda <args>` (the real CLI) signed with `key`: its JSON output. */
function cliFor(stratus: StratusProcess) {
  return async <T = Record<string, unknown>>(key: Key, args: string[]): Promise<T> => {
    const r = await aws(stratus, ['lambda', ...args], { credentials: key });
    assert.equal(r.code, 0, `aws lambda ${args.join(' ')} failed: ${r.stderr}`);
    return (r.stdout.trim() ? JSON.parse(r.stdout) : {}) as T;
  };
}

async function zipFile(dir: string, name: string, bytes: Buffer): Promise<string> {
  const path = join(dir, `${name}.zip`);
  await writeFile(path, bytes);
  return `fileb://${path}`;
}

const handler = (tag: string) => makeZip({ 'index.js': `exports.handler = async () => ({ tag: ${JSON.stringify(tag)} });\n` });

describe('code garbage collection (stratus up)', () => {
  let stratus: StratusProcess;
  let files: string;
  let a: AccountKey;
  let b: AccountKey;
  before(async () => {
    files = await mkdtemp(join(tmpdir(), 'stratus-gc-zips-'));
    stratus = await startStratus({ args: ['--code-gc-grace-ms', '1500'] });
    a = await createAccount(stratus.url, stratus.credentials, 'gc-a');
    b = await createAccount(stratus.url, stratus.credentials, 'gc-b');
  });
  after(async () => {
    await stratus?.stop();
    await rm(files, { recursive: true, force: true });
  });

  it('keeps exactly what functions, versions and layers of every account use; TotalCodeSize counts it; one tenant deleting shared code leaves the other\'s running', async () => {
    const cli = cliFor(stratus);
    const [A, B] = [keyOf(a), keyOf(b)];
    const shared = await handler('shared, uploaded by both accounts');
    const [v1, v2] = [await handler('a: version 1'), await handler('a: version 2')];
    const lib = await makeZip({ 'nodejs/node_modules/lib/index.js': 'module.exports = 1;\n' });
    const create = (key: Key, name: string, zip: string) => cli(key, ['create-function', '--function-name', name, '--runtime', 'nodejs20.x', '--handler', 'index.handler', '--role', ROLE, '--zip-file', zip]);
    await create(A, 'uses-shared', await zipFile(files, 'shared', shared));
    await create(B, 'uses-shared', await zipFile(files, 'shared', shared));
    await create(A, 'evolving', await zipFile(files, 'v1', v1));
    await cli(A, ['publish-version', '--function-name', 'evolving']);
    await cli(A, ['update-function-code', '--function-name', 'evolving', '--zip-file', await zipFile(files, 'v2', v2)]);
    await cli(A, ['publish-version', '--function-name', 'evolving']);
    const layer = await cli<{ LayerVersionArn: string }>(A, ['publish-layer-version', '--layer-name', 'lib', '--zip-file', await zipFile(files, 'lib', lib)]);
    await cli(A, ['update-function-configuration', '--function-name', 'evolving', '--layers', layer.LayerVersionArn]);
    const orphan = await handler('replaced right away');
    await create(A, 'short-lived', await zipFile(files, 'orphan', orphan));
    await cli(A, ['update-function-code', '--function-name', 'short-lived', '--zip-file', await zipFile(files, 'shared', shared)]);
    await untilOnDisk(stratus.dataDir, [shared, v1, v2, lib], 'the replaced package goes, everything used stays');

    const settings = async (key: Key) => (await cli<{ AccountUsage: { TotalCodeSize: number } }>(key, ['get-account-settings'])).AccountUsage.TotalCodeSize;
    // A: uses-shared, short-lived (shared), evolving $LATEST (v2), versions 1 (v1) and 2 (v2), layer lib:1.
    assert.equal(await settings(A), 2 * shared.length + v1.length + 2 * v2.length + lib.length);
    assert.equal(await settings(B), shared.length);

    // The attack: A deletes its functions using the package B uploaded too. B's copy is B's reference: it stays and runs.
    await cli(A, ['delete-function', '--function-name', 'uses-shared']);
    await cli(A, ['delete-function', '--function-name', 'short-lived']);
    await cli(A, ['delete-function', '--function-name', 'evolving', '--qualifier', '1']);
    await cli(A, ['delete-layer-version', '--layer-name', 'lib', '--version-number', '1']);
    await untilOnDisk(stratus.dataDir, [shared, v2, lib], 'version 1\'s package goes; the layer stays while a function keeps its copy');
    const out = join(files, 'out.json');
    const invoked = await cli<{ FunctionError?: string }>(B, ['invoke', '--function-name', 'uses-shared', out]);
    assert.equal(invoked.FunctionError, undefined);
    assert.deepEqual(JSON.parse(await readFile(out, 'utf8')), { tag: 'shared, uploaded by both accounts' });
    const onDisk = await blobsOnDisk(stratus.dataDir);
    assert.equal([...onDisk.values()].reduce((n, s) => n + s, 0), shared.length + v2.length + lib.length, 'the bytes on disk are the distinct packages used');
    assert.equal(await settings(A), 2 * v2.length, 'A: evolving $LATEST and version 2 (its deleted layer version no longer counts)');

    await cli(A, ['delete-function', '--function-name', 'evolving']);
    await untilOnDisk(stratus.dataDir, [shared], 'the function and its layer copy gone, so are their packages');
    await cli(B, ['delete-function', '--function-name', 'uses-shared']);
    await untilOnDisk(stratus.dataDir, [], 'nothing left');
    assert.deepEqual([await settings(A), await settings(B)], [0, 0]);

    const scrape = new Scrape(await parseExposition(await (await fetch(stratus.metricsUrl)).text()));
    assert.equal(scrape.value('stratus_code_gc_removed_blobs_total', { kind: 'code' }), 5);
    assert.equal(scrape.value('stratus_code_gc_removed_bytes_total', { kind: 'code' }), shared.length + v1.length + v2.length + lib.length + orphan.length);
  });
});

describe('code garbage collection: grace period and restart', () => {
  let dataDir: string;
  let files: string;
  let stratus: StratusProcess | undefined;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'stratus-gc-'));
    files = await mkdtemp(join(tmpdir(), 'stratus-gc-zips-'));
  });
  after(async () => {
    await stratus?.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(files, { recursive: true, force: true });
  });

  /** Puts a file with an old mtime into the code store, as a process killed between a document's change and the delete would leave it. */
  async function plantOld(dir: string, name: string, bytes: Buffer): Promise<string> {
    await mkdir(dir, { recursive: true });
    const path = join(dir, name);
    await writeFile(path, bytes);
    const old = (Date.now() - 2 * HOUR) / 1000;
    await utimes(path, old, old);
    return path;
  }

  it('a package uploaded or first seen unused within the grace period stays; a repeated upload renews it; what a killed process left goes a grace period after the restart', async () => {
    stratus = await startStratus({ dataDir });
    const cli = cliFor(stratus);
    const key = stratus.credentials;
    const [first, second] = [await handler('first'), await handler('second')];
    await cli(key, ['create-function', '--function-name', 'f', '--runtime', 'nodejs20.x', '--handler', 'index.handler', '--role', ROLE, '--zip-file', await zipFile(files, 'first', first)]);
    await cli(key, ['update-function-code', '--function-name', 'f', '--zip-file', await zipFile(files, 'second', second)]);
    // An old stray blob: put long ago, but this process has only just seen it unused, so it stays too.
    const stray = Buffer.from('left by an earlier crash');
    const strayPath = await plantOld(join(dataDir, 'code', 'sha256'), hex(stray), stray);
    const { Configuration } = await cli<{ Configuration: { FunctionArn: string } }>(key, ['get-function', '--function-name', 'f']);
    await aSweepAfter(stratus, (n) => cli(key, ['tag-resource', '--resource', Configuration.FunctionArn, '--tags', `k=v${n}`]));
    assert.deepEqual(sorted((await blobsOnDisk(dataDir)).keys()), sorted([hex(first), hex(second), hex(stray)]), 'the replaced package and the stray are within their grace period: kept');

    // A repeated upload of stored bytes renews their last-put time (the grace runs from it).
    const firstPath = join(dataDir, 'code', 'sha256', hex(first));
    const old = (Date.now() - 2 * HOUR) / 1000;
    await utimes(firstPath, old, old);
    const before = Date.now() - 1000;
    await cli(key, ['create-function', '--function-name', 'g', '--runtime', 'nodejs20.x', '--handler', 'index.handler', '--role', ROLE, '--zip-file', await zipFile(files, 'first', first)]);
    assert.ok((await stat(firstPath)).mtimeMs >= before, 'the upload renewed the stored package');

    // Killed: what it left (a blob, an image chunk and manifest nothing names, all old) goes a
    // grace period after the next start (the sweep at start only sees it unused), chunks once their manifest is gone.
    await stratus.kill();
    const strayBlob = await plantOld(join(dataDir, 'code', 'sha256'), hex(Buffer.from('blob after kill')), Buffer.from('blob after kill'));
    const chunk = Buffer.from('a chunk of an image import');
    const chunkPath = await plantOld(join(dataDir, 'code', 'chunks', hex(chunk).slice(0, 2)), hex(chunk), chunk);
    const manifestPath = await plantOld(join(dataDir, 'code', 'images'), `${'f'.repeat(64)}.json`, Buffer.from(JSON.stringify({
      digest: `sha256:${'f'.repeat(64)}`, size: chunk.length, chunkSize: 524288, chunks: [hex(chunk)], config: { entrypoint: [], cmd: [], env: [], workingDir: '/' },
    })));
    stratus = await startStratus({ dataDir, credentials: key, args: ['--code-gc-grace-ms', '1500'] });
    const gone = async (path: string) => stat(path).then(() => false, () => true);
    await until(async () => (await gone(strayBlob)) && (await gone(chunkPath)) && (await gone(manifestPath)), 'the sweeps a grace period after start');
    assert.equal(await gone(strayPath), true);
    const restarted = cliFor(stratus);
    await restarted(key, ['invoke', '--function-name', 'g', join(files, 'out.json')]);
    await restarted(key, ['invoke', '--function-name', 'f', join(files, 'out.json')]);
  });
});
