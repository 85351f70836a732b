// Code garbage collection of container images on one machine: images built with umoci, pushed to
// a real docker-registry on loopback, used by functions of two accounts. An image no function
// names any more leaves the chunk store (its manifest and the chunks no other image lists); an
// image another account still uses stays whole and runs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateFunctionCommand, DeleteFunctionCommand, InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { clientFor, createAccount, keyOf } from '../helpers/accounts.js';
import { ImageLayout, NODE_ENTRYPOINT, nodeBaseFiles, startRegistry, type LocalRegistry } from '../helpers/oci.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { until } from '../helpers/wait.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const handler = (tag: string) => `export const handler = async () => ({ tag: ${JSON.stringify(tag)} });\n`;

describe('code garbage collection of container images', () => {
  let registry: LocalRegistry;
  let layout: ImageLayout;
  let s: StratusProcess;
  let shared: string;
  let own: string;
  before(async () => {
    registry = await startRegistry();
    layout = await ImageLayout.create();
    const base = { ...(await nodeBaseFiles()), '/var/task/index.mjs': handler('shared image'), '/var/task/pad.bin': randomBytes(3 * 1024 * 1024) };
    await layout.build('shared', { files: base, entrypoint: NODE_ENTRYPOINT, cmd: ['index.handler'], workingDir: '/var/task' });
    shared = await layout.push('shared', registry, 'stratus/gc:shared');
    await layout.build('own', { base: 'shared', files: { '/var/task/index.mjs': handler('own image'), '/var/task/extra.bin': randomBytes(2 * 1024 * 1024) } });
    own = await layout.push('own', registry, 'stratus/gc:own');
    s = await startStratus({ args: ['--code-gc-grace-ms', '1500'] });
  });
  after(async () => {
    await s?.stop();
    await registry?.stop();
    await layout?.remove();
  });

  /** The manifests (digest hex → chunk list) and chunk files in the store on disk. */
  async function store(): Promise<{ images: Map<string, string[]>; chunks: Set<string> }> {
    const images = new Map<string, string[]>();
    for (const name of await readdir(join(s.dataDir, 'code', 'images')).catch(() => [] as string[])) {
      if (name.endsWith('.json')) images.set(name.slice(0, -5), (JSON.parse(await readFile(join(s.dataDir, 'code', 'images', name), 'utf8')) as { chunks: string[] }).chunks);
    }
    const chunks = new Set<string>();
    for (const sub of await readdir(join(s.dataDir, 'code', 'chunks')).catch(() => [] as string[])) {
      for (const name of await readdir(join(s.dataDir, 'code', 'chunks', sub))) if (/^[0-9a-f]{64}$/.test(name)) chunks.add(name);
    }
    return { images, chunks };
  }

  const invoke = async (client: LambdaClient, name: string) => {
    const out = await client.send(new InvokeCommand({ FunctionName: name }));
    assert.equal(out.FunctionError, undefined);
    return JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString()) as { tag: string };
  };

  it('an image no function names leaves with the chunks only it listed; an image another account uses stays and runs', async () => {
    const [a, b] = [await createAccount(s.url, s.credentials, 'img-a'), await createAccount(s.url, s.credentials, 'img-b')];
    const [A, B] = [clientFor(s.url, keyOf(a)), clientFor(s.url, keyOf(b))];
    const create = (client: LambdaClient, name: string, uri: string) => client.send(new CreateFunctionCommand({ FunctionName: name, Role: ROLE, PackageType: 'Image', Code: { ImageUri: uri } }));
    await create(A, 'uses-shared', shared);
    await create(B, 'uses-shared', shared);
    await create(A, 'uses-own', own);
    const full = await store();
    assert.equal(full.images.size, 2);
    const [sharedChunks, ownChunks] = [...full.images.values()].sort((x, y) => x.length - y.length);
    assert.ok(sharedChunks && ownChunks);
    const onlyOwn = ownChunks.filter((c) => !sharedChunks.includes(c));
    assert.ok(onlyOwn.length > 0 && onlyOwn.length < ownChunks.length, 'the second image shares some chunks with the first, and adds some');

    // Account A drops both images it used: the one B uses too stays whole; the other goes, but not the chunks it shares.
    await A.send(new DeleteFunctionCommand({ FunctionName: 'uses-shared' }));
    await A.send(new DeleteFunctionCommand({ FunctionName: 'uses-own' }));
    const expected = JSON.stringify([...new Set(sharedChunks)].sort());
    await until(async () => {
      const now = await store();
      return now.images.size === 1 && JSON.stringify([...now.chunks].sort()) === expected;
    }, 'the unused image and its own chunks removed').catch(async (err: unknown) => {
      const now = await store();
      assert.deepEqual([now.images.size, [...now.chunks].sort()], [1, [...new Set(sharedChunks)].sort()]);
      throw err;
    });
    assert.deepEqual(await invoke(B, 'uses-shared'), { tag: 'shared image' });

    await B.send(new DeleteFunctionCommand({ FunctionName: 'uses-shared' }));
    await until(async () => {
      const now = await store();
      return now.images.size === 0 && now.chunks.size === 0;
    }, 'nothing left once no function names an image');
    A.destroy();
    B.destroy();
  });
});
