// The worker's image mounts do not outlive their use (a real `stratus up`, a real registry): once
// a container-image function's code is updated, the old image's EROFS mount and FUSE mount go,
// its FUSE server exits and its directory is deleted, after the cache idle time; the mount of the
// image a live environment runs stays.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, UpdateFunctionCodeCommand } from '@aws-sdk/client-lambda';
import { ImageLayout, NODE_ENTRYPOINT, nodeBaseFiles, startRegistry, type LocalRegistry } from '../helpers/oci.js';
import { parseExposition, Scrape } from '../helpers/prometheus.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { until } from '../helpers/wait.js';

const ROLE = 'arn:aws:iam::000000000000:role/lambda-role';
const IDLE_MS = 300;
const handler = (version: number) => `export const handler = async () => ({ version: ${version} });\n`;

const mountPoints = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '');

describe('worker caches: image mounts', () => {
  let registry: LocalRegistry;
  let layout: ImageLayout;
  let s: StratusProcess;
  const uris: string[] = [];

  before(async () => {
    registry = await startRegistry();
    layout = await ImageLayout.create();
    await layout.build('v1', { files: { ...(await nodeBaseFiles()), '/var/task/index.mjs': handler(1) }, entrypoint: NODE_ENTRYPOINT, cmd: ['index.handler'], workingDir: '/var/task' });
    uris.push(await layout.push('v1', registry, 'stratus/cache:v1'));
    await layout.build('v2', { base: 'v1', files: { '/var/task/index.mjs': handler(2) } });
    uris.push(await layout.push('v2', registry, 'stratus/cache:v2'));
    s = await startStratus({ keepAliveMs: 120_000, args: ['--worker-cache-idle-ms', String(IDLE_MS)] });
  });
  after(async () => {
    await s?.stop();
    await registry?.stop();
    await layout?.remove();
  });

  const invoke = async () => {
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'img' }));
    assert.equal(out.FunctionError, undefined, Buffer.from(out.Payload ?? []).toString());
    return (JSON.parse(Buffer.from(out.Payload ?? []).toString()) as { version: number }).version;
  };
  /** The FUSE servers of Stratus: descendants whose command line names an image spec. */
  const fuseServers = async () => {
    const out: string[] = [];
    for (const pid of await s.descendants()) {
      const cmdline = (() => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      })();
      if (cmdline.includes('lazy-image-fs')) out.push(cmdline.split('\0').find((a) => a.endsWith('spec.json')) ?? '');
    }
    return out;
  };

  it("the old image's mounts and FUSE server go once unused; the image in use stays", async () => {
    const images = join(s.dataDir, 'worker', 'images', '000000000000');
    await s.lambda.send(new CreateFunctionCommand({ FunctionName: 'img', Role: ROLE, PackageType: 'Image', Code: { ImageUri: uris[0] } }));
    assert.equal(await invoke(), 1);
    const [old] = readdirSync(images);
    assert.ok(old, 'the image is mounted under the account');
    const oldDir = join(images, old);
    assert.ok(mountPoints().includes(join(oldDir, 'root')) && mountPoints().includes(join(oldDir, 'fuse')));
    assert.deepEqual(await fuseServers(), [join(oldDir, 'spec.json')]);
    await new Promise((r) => setTimeout(r, IDLE_MS * 4));
    assert.ok(mountPoints().includes(join(oldDir, 'root')), 'kept while its environment lives');
    assert.equal(await invoke(), 1);

    await s.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'img', ImageUri: uris[1] }));
    assert.equal(await invoke(), 2);
    await until(async () => !existsSync(oldDir) && (await fuseServers()).length === 1, 'the old image unmounted, its FUSE server stopped, its directory deleted');
    const points = mountPoints();
    assert.ok(!points.includes(join(oldDir, 'root')) && !points.includes(join(oldDir, 'fuse')));
    const [current] = readdirSync(images);
    assert.ok(current && current !== old && points.includes(join(images, current, 'root')), 'the image in use stays mounted');
    assert.deepEqual(await fuseServers(), [join(images, current, 'spec.json')]);
    assert.equal(await invoke(), 2);
    const m = new Scrape(await parseExposition(await (await fetch(s.metricsUrl)).text()));
    assert.equal(m.value('stratus_worker_cache_evictions_total', { worker: 'worker-1', cache: 'images', reason: 'idle' }), 1);
    assert.equal(m.value('stratus_worker_cache_entries', { worker: 'worker-1', cache: 'images' }), 1);
  });
});
