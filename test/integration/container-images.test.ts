// Container-image functions end to end: images built with umoci, pushed with skopeo to a real
// docker-registry on loopback, created and updated with the AWS SDK and CLI, invoked in sandboxes
// rooted in the lazily mounted image. Laziness and deduplication are checked on the chunk files.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, GetFunctionCommand, InvokeCommand, PublishVersionCommand } from '@aws-sdk/client-lambda';
import { aws } from '../helpers/aws-cli.js';
import { ImageLayout, NODE_ENTRYPOINT, nodeBaseFiles, startRegistry, type LocalRegistry } from '../helpers/oci.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const PAD_BYTES = 64 * 1024 * 1024;
const LAZY = randomBytes(4 * 1024 * 1024);

const handler = (version: number) => `
import { existsSync, readFileSync } from 'node:fs';
export const handler = async (event) => {
  if (event.readLazy) return { lazyBytes: readFileSync('/var/task/lazy.bin').length };
  return {
    version: ${version}, handler: process.env._HANDLER, imageVar: process.env.IMAGE_VAR, cwd: process.cwd(),
    fnVar: process.env.FN_VAR ?? null, oldFile: existsSync('/var/task/old.txt'), osRelease: existsSync('/etc/os-release'),
  };
};
export const other = async () => ({ other: true, startedIn: process.env.STARTED_IN ?? null });
`;

/** An alternative entry point: notes where it started, then runs Stratus's runtime client. */
const ENTRY = `process.env.STARTED_IN = process.cwd();
await import('/var/runtime/bootstrap.mjs');
`;

/** The chunk files of `store` whose bytes lie wholly inside `content` (a file of random bytes). */
async function chunksInside(paths: string[], content: Buffer): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    const chunk = await readFile(path);
    const at = content.indexOf(chunk.subarray(0, 64));
    if (at >= 0 && content.subarray(at, at + chunk.length).equals(chunk)) out.push(path);
  }
  return out;
}

/** Every file under a directory, recursively (chunk stores keep one file per chunk). */
async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await files(path)));
    else if (!entry.name.startsWith('.')) out.push(path);
  }
  return out;
}

interface ChunkStats {
  localHits: number;
  localMisses: number;
  storeFailures: number;
  bytesFetched: number;
}

/** The worker's chunk-cache counters, from its chunk server socket (`GET /stats`). */
async function chunkStats(stratusPid: number): Promise<ChunkStats> {
  const dir = (await readdir(tmpdir())).find((name) => name.startsWith(`stratus-chunks-${stratusPid}-`));
  if (!dir) throw new Error('no chunk server socket');
  return new Promise((resolve, reject) => {
    get({ socketPath: join(tmpdir(), dir, 'chunks.sock'), path: '/stats' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(JSON.parse(body) as ChunkStats));
    }).on('error', reject);
  });
}

describe('container-image functions', () => {
  let registry: LocalRegistry;
  let layout: ImageLayout;
  let s: StratusProcess;
  let v1 = '';
  let v2 = '';
  const storeChunks = () => files(join(s.dataDir, 'code', 'chunks'));
  const cachedChunks = () => files(join(s.dataDir, 'worker', 'chunks'));
  const manifestOf = async (digest: string) =>
    JSON.parse(await readFile(join(s.dataDir, 'code', 'images', `${digest.slice(7)}.json`), 'utf8')) as { chunks: string[]; size: number };
  const invoke = async (name: string, event: unknown = {}) => {
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)), LogType: 'Tail' }));
    return { error: out.FunctionError, body: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Record<string, unknown>, log: Buffer.from(out.LogResult ?? '', 'base64').toString() };
  };

  before(async () => {
    registry = await startRegistry();
    layout = await ImageLayout.create();
    await layout.build('v1', {
      files: {
        ...(await nodeBaseFiles()),
        '/var/task/index.mjs': handler(1), '/var/task/old.txt': 'removed in v2', '/var/task/entry.mjs': ENTRY,
        '/var/task/lazy.bin': LAZY, '/var/task/never-read.bin': randomBytes(PAD_BYTES),
      },
      entrypoint: NODE_ENTRYPOINT, cmd: ['index.handler'], env: ['IMAGE_VAR=from-image', 'PATH=/usr/bin:/bin'], workingDir: '/var/task',
    });
    v1 = await layout.push('v1', registry, 'stratus/node:v1');
    await layout.build('v2', { base: 'v1', files: { '/var/task/index.mjs': handler(2) }, remove: ['/var/task/old.txt'] });
    v2 = await layout.push('v2', registry, 'stratus/node:v2');
    s = await startStratus({ args: ['--image-max-bytes', String(1024 * 1024 * 1024)] });
  });
  after(async () => {
    await s?.stop();
    await registry?.stop();
    await layout?.remove();
  });

  test('create-function with an ImageUri, then invoke: the image config applies and only touched chunks are fetched', async (t) => {
    const created = await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'img', Role: ROLE, PackageType: 'Image', Code: { ImageUri: v1 }, Environment: { Variables: { FN_VAR: 'fn' } },
    }));
    assert.equal(created.PackageType, 'Image');
    assert.equal(created.Runtime, undefined);
    assert.equal(created.Handler, undefined);
    const first = await invoke('img');
    assert.equal(first.error, undefined, first.log);
    assert.deepEqual(first.body, { version: 1, handler: 'index.handler', imageVar: 'from-image', cwd: '/var/task', fnVar: 'fn', oldFile: true, osRelease: false });
    const warm = await invoke('img');
    assert.equal(warm.body.version, 1);

    const got = await s.lambda.send(new GetFunctionCommand({ FunctionName: 'img' }));
    assert.equal(got.Code?.RepositoryType, 'ECR');
    assert.equal(got.Code?.ImageUri, v1);
    assert.match(got.Code?.ResolvedImageUri ?? '', new RegExp(`^${registry.host}/stratus/node@sha256:[0-9a-f]{64}$`));
    const digest = (got.Code?.ResolvedImageUri ?? '').split('@')[1] ?? '';
    const manifest = await manifestOf(digest);
    const fetched = (await cachedChunks()).length;
    t.diagnostic(`cold start fetched ${fetched} of ${manifest.chunks.length} chunks (${manifest.size} bytes)`);
    assert.ok(manifest.size > PAD_BYTES, `the image holds the padding (${manifest.size} bytes)`);
    assert.ok(fetched > 0 && fetched < manifest.chunks.length * 0.6, `a cold start fetched ${fetched} of ${manifest.chunks.length} chunks`);
    const stats = await chunkStats(s.pid);
    assert.equal(stats.localMisses, fetched, 'every chunk fetched from the code store was a local-cache miss');
    assert.equal(stats.bytesFetched, fetched * 512 * 1024);
    assert.equal(stats.storeFailures, 0);
  });

  test('publish-version freezes the image: version 1 runs it, with CodeSha256 the image digest', async () => {
    const published = await s.lambda.send(new PublishVersionCommand({ FunctionName: 'img' }));
    assert.equal(published.Version, '1');
    assert.match(published.CodeSha256 ?? '', /^[0-9a-f]{64}$/);
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'img', Qualifier: '1', Payload: Buffer.from('{}') }));
    assert.equal(out.FunctionError, undefined);
    assert.equal(out.ExecutedVersion, '1');
    assert.equal((JSON.parse(Buffer.from(out.Payload ?? []).toString()) as { version: number }).version, 1);
  });

  test('update-function-code --image-uri (AWS CLI): a second image on the same base adds only its new chunks', async (t) => {
    const before = (await storeChunks()).length;
    const out = await aws(s, ['lambda', 'update-function-code', '--function-name', 'img', '--image-uri', v2]);
    assert.equal(out.code, 0, out.stderr);
    const added = (await storeChunks()).length - before;
    const config = JSON.parse(out.stdout) as { CodeSha256: string };
    const manifest = await manifestOf(`sha256:${config.CodeSha256}`);
    t.diagnostic(`v2 added ${added} chunks of its ${manifest.chunks.length}`);
    assert.ok(added <= manifest.chunks.length * 0.1, `v2 added ${added} chunks of its ${manifest.chunks.length}`);
    const res = await invoke('img');
    assert.equal(res.error, undefined, res.log);
    assert.equal(res.body.version, 2);
    assert.equal(res.body.oldFile, false, 'the whiteout removed old.txt');
  });

  test('ImageConfig overrides the entry point, command and working directory (AWS CLI), and GetFunctionConfiguration shows it', async () => {
    const imageConfig = { EntryPoint: ['/usr/bin/node', '/var/task/entry.mjs'], Command: ['index.other'], WorkingDirectory: '/tmp' };
    const out = await aws(s, ['lambda', 'create-function', '--function-name', 'img-other', '--role', ROLE, '--package-type', 'Image',
      '--code', `ImageUri=${v1}`, '--image-config', JSON.stringify(imageConfig)]);
    assert.equal(out.code, 0, out.stderr);
    const got = await aws(s, ['lambda', 'get-function-configuration', '--function-name', 'img-other']);
    assert.deepEqual((JSON.parse(got.stdout) as { ImageConfigResponse: unknown }).ImageConfigResponse, { ImageConfig: imageConfig });
    const res = await invoke('img-other');
    assert.equal(res.error, undefined, res.log);
    assert.deepEqual(res.body, { other: true, startedIn: '/tmp' });

    // UpdateFunctionConfiguration replaces ImageConfig as a whole: the image's own entry point again.
    const updated = await aws(s, ['lambda', 'update-function-configuration', '--function-name', 'img-other', '--image-config', '{"Command":["index.handler"]}']);
    assert.equal(updated.code, 0, updated.stderr);
    const again = await invoke('img-other');
    assert.equal(again.error, undefined, again.log);
    assert.equal(again.body.handler, 'index.handler');
    const refused = await aws(s, ['lambda', 'update-function-configuration', '--function-name', 'img-other', '--runtime', 'nodejs20.x']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /InvalidParameterValueException.*Please don't provide Handler or Runtime or Layer/);
  });

  test('a chunk that cannot be fetched fails the invoke as a function error, and is fetched again next time', async () => {
    const { rename, mkdir } = await import('node:fs/promises');
    // lazy.bin's chunks that no invoke has needed yet (prefetching may have fetched its first ones).
    const cached = new Set((await cachedChunks()).map((p) => p.split('/').at(-1)));
    const lazyChunks = (await chunksInside(await storeChunks(), LAZY)).filter((p) => !cached.has(p.split('/').at(-1)));
    assert.ok(lazyChunks.length >= 2, `lazy.bin has ${lazyChunks.length} chunks not fetched yet`);
    const aside = join(s.dataDir, 'aside');
    await mkdir(aside);
    for (const path of lazyChunks) await rename(path, join(aside, path.split('/').at(-1) ?? ''));
    const failuresBefore = (await chunkStats(s.pid)).storeFailures;
    const failed = await invoke('img', { readLazy: true });
    assert.equal(failed.error, 'Unhandled', failed.log);
    assert.match(String(failed.body.errorMessage), /EIO: i\/o error/);
    assert.ok((await chunkStats(s.pid)).storeFailures > failuresBefore, 'the failed fetch is counted');
    for (const path of lazyChunks) await rename(join(aside, path.split('/').at(-1) ?? ''), path);
    const ok = await invoke('img', { readLazy: true });
    assert.equal(ok.error, undefined, ok.log);
    assert.equal(ok.body.lazyBytes, LAZY.length);
  });
});
