// Bad container images get Lambda's InvalidParameterValueException at create/update time, and
// nothing of them is left behind: no function, no chunk, no image manifest, no build scratch. An
// image already stored is no pass: every import asks the registry for its manifest again.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, GetFunctionCommand, UpdateFunctionCodeCommand, type CreateFunctionCommandInput } from '@aws-sdk/client-lambda';
import { deleteManifest, ImageLayout, manifestDigest, startRegistry, startRegistryGate, type LocalRegistry } from '../helpers/oci.js';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const LIMIT = 16 * 1024 * 1024;

async function count(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    n += entry.isDirectory() ? await count(join(dir, entry.name)) : 1;
  }
  return n;
}

describe('container images: bad input', () => {
  let registry: LocalRegistry;
  let layout: ImageLayout;
  let s: StratusProcess;
  const uris: Record<string, string> = {};
  const stored = async () => ({
    chunks: await count(join(s.dataDir, 'code', 'chunks')),
    images: await count(join(s.dataDir, 'code', 'images')),
    scratch: await count(join(s.dataDir, 'image-builds')),
  });
  const refused = async (input: Partial<CreateFunctionCommandInput>, message: RegExp) => {
    const name = `bad-${Math.random().toString(36).slice(2, 8)}`;
    await assert.rejects(
      s.lambda.send(new CreateFunctionCommand({ FunctionName: name, Role: ROLE, PackageType: 'Image', ...input } as CreateFunctionCommandInput)),
      (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(err.name, 'InvalidParameterValueException', err.message);
        assert.equal(err.$metadata?.httpStatusCode, 400);
        assert.match(err.message, message);
        return true;
      },
    );
    await assert.rejects(s.lambda.send(new GetFunctionCommand({ FunctionName: name })), { name: 'ResourceNotFoundException' });
  };

  before(async () => {
    registry = await startRegistry();
    layout = await ImageLayout.create();
    await layout.build('tiny', { files: { '/hello.txt': 'hello' }, entrypoint: ['/bin/false'] });
    uris.tiny = await layout.push('tiny', registry, 'stratus/tiny:v1');
    await layout.build('arm', { base: 'tiny', files: { '/arm.txt': 'arm' }, architecture: 'arm64' });
    uris.arm = await layout.push('arm', registry, 'stratus/arm:v1');
    await layout.build('big', { base: 'tiny', files: { '/big.bin': randomBytes(LIMIT + 1024 * 1024) } });
    uris.big = await layout.push('big', registry, 'stratus/big:v1');
    await layout.build('corrupt', { base: 'tiny', files: { '/corrupt.txt': 'will be corrupted in the registry' } });
    uris.corrupt = await layout.push('corrupt', registry, 'stratus/corrupt:v1');
    await corruptTopLayer(registry, 'stratus/corrupt', 'v1');
    s = await startStratus({ args: ['--image-max-bytes', String(LIMIT)] });
    await s.lambda.send(new CreateFunctionCommand({ FunctionName: 'good', Role: ROLE, PackageType: 'Image', Code: { ImageUri: uris.tiny } }));
  });
  after(async () => {
    await s?.stop();
    await registry?.stop();
    await layout?.remove();
  });

  test('unknown images, missing tags, other platforms, corrupt layers and oversized images are refused, and nothing is stored', async () => {
    const before = await stored();
    await refused({ Code: { ImageUri: `${registry.host}/stratus/nothing:v1` } }, /^Source image .*stratus\/nothing:v1 does not exist\. Provide a valid source image\.$/);
    await refused({ Code: { ImageUri: `${registry.host}/stratus/tiny:no-such-tag` } }, /^Source image .*tiny:no-such-tag does not exist\./);
    await refused({ Code: { ImageUri: `${registry.host}/stratus/tiny` } }, /^Source image .*stratus\/tiny is not valid\. Provide a valid source image\.$/);
    await refused({ Code: { ImageUri: uris.arm } }, /linux\/arm64.*requires linux\/amd64/);
    await refused({ Code: { ImageUri: uris.corrupt } }, /does not match its digest/);
    await refused({ Code: { ImageUri: uris.big } }, new RegExp(`^Image size must be smaller than ${LIMIT} bytes uncompressed`));
    assert.deepEqual(await stored(), { ...before, scratch: 0 });
  });

  test('every import asks the registry: an image deleted since, or a repository closed since, is refused although its chunks are stored', async () => {
    await layout.build('gone', { base: 'tiny', files: { '/gone.txt': 'deleted from the registry later' } });
    const goneUri = await layout.push('gone', registry, 'stratus/gone:v1');
    await s.lambda.send(new CreateFunctionCommand({ FunctionName: 'gone-first', Role: ROLE, PackageType: 'Image', Code: { ImageUri: goneUri } }));
    const digest = await manifestDigest(registry, 'stratus/gone', 'v1');
    await deleteManifest(registry, 'stratus/gone', digest);
    const before = await stored();
    await refused({ Code: { ImageUri: goneUri } }, /^Source image .*stratus\/gone:v1 does not exist\. Provide a valid source image\.$/);
    await refused({ Code: { ImageUri: `${registry.host}/stratus/gone@${digest}` } }, /does not exist/);
    assert.deepEqual(await stored(), { ...before, scratch: 0 }, 'the image stays stored (its first function keeps it)');

    const gate = await startRegistryGate(registry);
    try {
      await layout.build('private', { base: 'tiny', files: { '/private.txt': 'pulled once while the repository was open' } });
      await layout.push('private', registry, 'stratus/private:v1');
      const privateUri = `${gate.host}/stratus/private:v1`;
      await s.lambda.send(new CreateFunctionCommand({ FunctionName: 'private-first', Role: ROLE, PackageType: 'Image', Code: { ImageUri: privateUri } }));
      const privateDigest = await manifestDigest(registry, 'stratus/private', 'v1');
      gate.lock('stratus/private');
      const denied = /^Lambda does not have permission to access the ECR image\. Check the ECR permissions\.$/;
      await refused({ Code: { ImageUri: privateUri } }, denied);
      await refused({ Code: { ImageUri: `${gate.host}/stratus/private@${privateDigest}` } }, denied);
      await assert.rejects(
        s.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'good', ImageUri: privateUri })),
        (err: Error) => err.name === 'InvalidParameterValueException' && denied.test(err.message),
      );
      assert.equal((await s.lambda.send(new GetFunctionCommand({ FunctionName: 'good' }))).Code?.ImageUri, uris.tiny);
    } finally {
      await gate.stop();
    }
  });

  test('package types are not mixed, as Lambda refuses it', async () => {
    await refused({ Code: { ImageUri: uris.tiny }, Runtime: 'nodejs20.x' }, /^Please don't provide Handler or Runtime or Layer when the intended function PackageType is Image\.$/);
    await refused({ Code: {} }, /^Please provide a source for function code\.$/);
    await assert.rejects(
      s.lambda.send(new CreateFunctionCommand({
        FunctionName: 'zip-with-image-config', Role: ROLE, Runtime: 'nodejs20.x', Handler: 'index.handler',
        Code: { ZipFile: await makeZip({ 'index.mjs': 'export const handler = async () => 1;' }) }, ImageConfig: { Command: ['x'] },
      })),
      { name: 'InvalidParameterValueException', message: "Please don't provide ImageConfig when the intended function PackageType is Zip." },
    );
    await assert.rejects(
      s.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'good', ZipFile: await makeZip({ 'a.js': 'x' }) })),
      { name: 'InvalidParameterValueException', message: 'Please provide ImageUri when updating a function with packageType Image.' },
    );
    await assert.rejects(
      s.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'good', ImageUri: `${registry.host}/stratus/tiny:gone` })),
      { name: 'InvalidParameterValueException', message: /does not exist/ },
    );
    const got = await s.lambda.send(new GetFunctionCommand({ FunctionName: 'good' }));
    assert.equal(got.Code?.ImageUri, uris.tiny, 'a refused update leaves the function as it was');
  });
});

/** Overwrites the image's top layer blob in the registry's storage with other bytes of the same size. */
async function corruptTopLayer(registry: LocalRegistry, repository: string, tag: string): Promise<void> {
  const res = await fetch(`http://${registry.host}/v2/${repository}/manifests/${tag}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  const manifest = (await res.json()) as { layers: { digest: string }[] };
  const hex = manifest.layers.at(-1)?.digest.slice('sha256:'.length) ?? '';
  const data = join(registry.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  const size = (await stat(data)).size;
  const original = await readFile(data);
  const bad = randomBytes(size);
  assert.ok(!bad.equals(original));
  await writeFile(data, bad);
}
