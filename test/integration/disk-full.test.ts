// A full data disk degrades Stratus, never wedges it (issue 20). A real `stratus up` runs on a
// small tmpfs of the test's own as its data directory; a file the test writes fills it (up to the
// tmpfs's size and no further). Through the AWS CLI: Stratus starts on the full disk, lists, gets
// and invokes; deletes work; a create is refused with a clear ServiceException and stores
// nothing; once the file is removed, creates work again without a restart. Runs only as root
// (mounting a tmpfs); the mount and every file are removed afterwards, even on failure.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { aws } from '../helpers/aws-cli.js';
import { logsJson } from '../helpers/logs-cli.js';
import { parseExposition, Scrape } from '../helpers/prometheus.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { until } from '../helpers/wait.js';
import { makeZip } from '../helpers/zip.js';

const run = promisify(execFile);
const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const TMPFS_MB = 64;
const DISK_FULL = "Stratus's data disk is full: delete functions, versions or layers, or free space on it, then try again.";
const isRoot = process.getuid?.() === 0;

/** Writes `path` until the file system refuses (ENOSPC), never past `maxBytes`; resolves the bytes written. */
function fill(path: string, maxBytes: number): number {
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    for (const size of [1024 * 1024, 4096, 1]) {
      const block = Buffer.alloc(size, 7);
      while (written + size <= maxBytes) {
        try {
          written += writeSync(fd, block);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

const functionZip = (tag: string) => makeZip({
  'index.mjs': `export const handler = async (event) => { console.log('log line of ${tag}', JSON.stringify(event)); return { tag: '${tag}', event }; };`,
});

describe('a full data disk degrades, never wedges', { skip: isRoot ? false : 'mounting a tmpfs needs root' }, () => {
  let work: string;
  let dataDir: string;
  let mounted = false;
  let stratus: StratusProcess | undefined;
  const credentials = { accessKeyId: 'AKIADISKFULLTEST', secretAccessKey: 'disk-full-secret' };
  const cli = (args: string[]) => aws(stratus!, args);
  const zipPath = (tag: string) => join(work, `${tag}.zip`);
  const create = (name: string) => cli(['lambda', 'create-function', '--function-name', name, '--runtime', 'nodejs20.x', '--handler', 'index.handler',
    '--role', ROLE, '--zip-file', `fileb://${zipPath(name)}`]);
  const invoke = async (name: string) => {
    const out = join(work, `${name}-out.json`);
    const res = await cli(['lambda', 'invoke', '--function-name', name, '--payload', '{"n":1}', out]);
    assert.equal(res.code, 0, res.stderr);
    return JSON.parse(await readFile(out, 'utf8')) as { tag: string };
  };
  const names = async () => {
    const res = await cli(['lambda', 'list-functions']);
    assert.equal(res.code, 0, res.stderr);
    return (JSON.parse(res.stdout) as { Functions: { FunctionName: string }[] }).Functions.map((f) => f.FunctionName).sort();
  };
  const scrape = async () => new Scrape(await parseExposition(await (await fetch(stratus!.metricsUrl)).text()));
  const codeFiles = () => readdir(join(dataDir, 'code', 'sha256')).catch(() => [] as string[]);

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'stratus-disk-full-'));
    dataDir = join(work, 'data');
    await run('mkdir', ['-m', '700', dataDir]);
    await run('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_MB}m,mode=700`, 'tmpfs', dataDir]);
    mounted = true;
    for (const tag of ['keep', 'doomed', 'fresh']) await writeFile(zipPath(tag), await functionZip(tag));
    stratus = await startStratus({ dataDir, credentials });
  });
  after(async () => {
    await stratus?.stop();
    if (mounted) await run('umount', ['-l', dataDir]).catch(() => undefined);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('before the disk fills: two functions are created and invoked', async () => {
    for (const name of ['keep', 'doomed']) assert.equal((await create(name)).code, 0);
    assert.equal((await invoke('keep')).tag, 'keep');
    assert.equal((await invoke('doomed')).tag, 'doomed');
    assert.equal((await scrape()).value('stratus_data_disk_full', {}), 0);
  });

  it('with the disk filled to the last byte, stratus up starts', async () => {
    await stratus!.stop();
    stratus = undefined;
    const written = fill(join(dataDir, 'filler'), TMPFS_MB * 1024 * 1024);
    assert.ok(written > 0);
    // Full indeed: not one more byte fits.
    assert.throws(() => writeFileSyncOnce(join(dataDir, 'probe')), /ENOSPC/);
    stratus = await startStratus({ dataDir, credentials });
    assert.equal((await scrape()).value('stratus_data_disk_full', {}), 1);
  });

  it('reads and invokes of existing functions work; their log events are dropped and counted, not fatal', async () => {
    assert.deepEqual(await names(), ['doomed', 'keep']);
    const got = await cli(['lambda', 'get-function', '--function-name', 'keep']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal((JSON.parse(got.stdout) as { Configuration: { FunctionName: string } }).Configuration.FunctionName, 'keep');
    assert.equal((await invoke('keep')).tag, 'keep');
    assert.equal((await invoke('keep')).tag, 'keep');
    const queued = await cli(['lambda', 'invoke', '--function-name', 'keep', '--invocation-type', 'Event', '--payload', '{}', join(work, 'event-out.json')]);
    assert.equal(queued.code, 0, queued.stderr);
    assert.equal((JSON.parse(queued.stdout) as { StatusCode: number }).StatusCode, 202);
    await until(async () => (await scrape()).value('stratus_function_log_events_dropped_total', { reason: 'disk_full' }) > 0, 'log events dropped for the full disk');
  });

  it('a create is a ServiceException that says the disk is full, and stores nothing', async () => {
    const before = (await codeFiles()).sort();
    const res = await create('fresh');
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /\(ServiceException\) when calling the CreateFunction operation/);
    assert.ok(res.stderr.includes(DISK_FULL), res.stderr);
    assert.deepEqual(await names(), ['doomed', 'keep']);
    const freshSha = createHash('sha256').update(await readFile(zipPath('fresh'))).digest('hex');
    const after = (await codeFiles()).sort();
    assert.deepEqual(after, before);
    assert.ok(!after.includes(freshSha));
    assert.ok(!after.some((f) => f.startsWith('.tmp-')), after.join(' '));
  });

  it("a schedule's create is Scheduler's InternalServerException that says the disk is full, and stores nothing", async () => {
    const got = await cli(['lambda', 'get-function-configuration', '--function-name', 'keep']);
    const target = JSON.stringify({ Arn: (JSON.parse(got.stdout) as { FunctionArn: string }).FunctionArn, RoleArn: ROLE });
    const res = await cli(['scheduler', 'create-schedule', '--name', 'nightly', '--schedule-expression', 'rate(1 hour)', '--flexible-time-window', 'Mode=OFF', '--target', target]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /\(InternalServerException\) when calling the CreateSchedule operation/);
    assert.ok(res.stderr.includes(DISK_FULL), res.stderr);
    const listed = await cli(['scheduler', 'list-schedules']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as { Schedules: unknown[] }).Schedules, []);
  });

  it('a configuration update that grows the function is refused the same way and changes nothing', async () => {
    const res = await cli(['lambda', 'update-function-configuration', '--function-name', 'keep', '--description', 'x'.repeat(200)]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /\(ServiceException\) when calling the UpdateFunctionConfiguration operation/);
    const got = await cli(['lambda', 'get-function-configuration', '--function-name', 'keep']);
    assert.equal((JSON.parse(got.stdout) as { Description: string }).Description, '');
  });

  it('a delete works', async () => {
    const res = await cli(['lambda', 'delete-function', '--function-name', 'doomed']);
    assert.equal(res.code, 0, res.stderr);
    const gone = await cli(['lambda', 'get-function', '--function-name', 'doomed']);
    assert.match(gone.stderr, /ResourceNotFoundException/);
    assert.deepEqual(await names(), ['keep']);
  });

  it('restarted again while still full (the reserve already given back), it starts and serves', async () => {
    await stratus!.stop();
    stratus = await startStratus({ dataDir, credentials });
    assert.deepEqual(await names(), ['keep']);
    assert.equal((await invoke('keep')).tag, 'keep');
    assert.notEqual((await create('fresh')).code, 0);
  });

  it("once space is freed, Stratus notices by itself: an invoke's logs are stored again before any write asks", async () => {
    await rm(join(dataDir, 'filler'));
    await until(async () => (await scrape()).value('stratus_data_disk_full', {}) === 0, 'the disk seen to have room again, with no API write');
    const stored = async () => (await logsJson<{ events: { message: string }[] }>(stratus!, ['filter-log-events', '--log-group-name', '/aws/lambda/keep', '--filter-pattern', 'REPORT'])).events.length;
    const before = await stored();
    assert.equal((await invoke('keep')).tag, 'keep');
    await until(async () => (await stored()) > before, "the invoke's REPORT line stored");
  });

  it('once space is freed, creates work again without a restart', async () => {
    const res = await create('fresh');
    assert.equal(res.code, 0, res.stderr);
    assert.equal((await invoke('fresh')).tag, 'fresh');
    assert.deepEqual(await names(), ['fresh', 'keep']);
    assert.equal((await scrape()).value('stratus_data_disk_full', {}), 0);
  });

  it('a disk that fills while Stratus runs: deletes still work, and writes resume when it empties', async () => {
    fill(join(dataDir, 'filler'), TMPFS_MB * 1024 * 1024);
    const refused = await cli(['lambda', 'tag-resource', '--resource', `arn:aws:lambda:us-east-1:000000000000:function:keep`, '--tags', 'a=b']);
    assert.notEqual(refused.code, 0);
    const res = await cli(['lambda', 'delete-function', '--function-name', 'fresh']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal((await invoke('keep')).tag, 'keep');
    await rm(join(dataDir, 'filler'));
    assert.equal((await create('fresh')).code, 0);
    assert.deepEqual(await names(), ['fresh', 'keep']);
  });
});

function writeFileSyncOnce(path: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, Buffer.alloc(4096, 1));
  } finally {
    closeSync(fd);
  }
}
