// An image function on a `stratus worker` in its own process: the worker gets the image's
// manifest and chunks from the control plane (cluster API), mounts it lazily and runs it.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { ImageLayout, NODE_ENTRYPOINT, nodeBaseFiles, startRegistry, type LocalRegistry } from '../helpers/oci.js';
import { descendantsOf, startStratus, startWorker, type StratusProcess, type WorkerProcess } from '../helpers/stratus.js';

async function count(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) n += entry.isDirectory() ? await count(join(dir, entry.name)) : 1;
  return n;
}

describe('container images on a remote worker', () => {
  let registry: LocalRegistry;
  let layout: ImageLayout;
  let s: StratusProcess;
  let worker: WorkerProcess;
  let dir: string;

  before(async () => {
    registry = await startRegistry();
    layout = await ImageLayout.create();
    await layout.build('v1', {
      files: { ...(await nodeBaseFiles()), '/var/task/index.mjs': "export const handler = async () => ({ where: 'remote' });" },
      entrypoint: NODE_ENTRYPOINT, cmd: ['index.handler'], env: ['PATH=/usr/bin:/bin'], workingDir: '/var/task',
    });
    const uri = await layout.push('v1', registry, 'stratus/remote:v1');
    dir = await mkdtemp(join(tmpdir(), 'stratus-image-workers-'));
    // The in-process worker is too small for the function: it can only run on the remote one.
    s = await startStratus({ args: ['--worker-memory-mb', '128'] });
    worker = await startWorker(s, { id: 'img-worker', memoryMb: 1024, dataDir: join(dir, 'w') });
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'remote-img', Role: 'arn:aws:iam::123456789012:role/r', PackageType: 'Image', Code: { ImageUri: uri }, MemorySize: 512,
    }));
  });
  after(async () => {
    await worker?.stop();
    await s?.stop();
    await registry?.stop();
    await layout?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the remote worker fetches the chunks it reads from the control plane and runs the image', async () => {
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'remote-img', Payload: Buffer.from('{}') }));
    assert.equal(out.FunctionError, undefined, Buffer.from(out.Payload ?? []).toString());
    assert.deepEqual(JSON.parse(Buffer.from(out.Payload ?? []).toString()), { where: 'remote' });
    assert.ok((await descendantsOf(worker.pid)).length > 0, 'the sandbox runs under the remote worker');
    const fetched = await count(join(dir, 'w', 'worker', 'chunks'));
    const stored = await count(join(s.dataDir, 'code', 'chunks'));
    assert.ok(fetched > 0 && fetched < stored, `the remote worker fetched ${fetched} of ${stored} chunks`);
  });
});
