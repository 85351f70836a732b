import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fakeFunction } from '../../test/helpers/fake-worker.js';
import type { FunctionVersion } from '../registry/index.js';
import { environmentSpecSchema } from '../worker/index.js';
import { environmentSpec } from './environment-spec.js';

const DIGEST = `sha256:${'b'.repeat(64)}`;

describe('environmentSpec', () => {
  it('gives a worker what a zip function needs, in a shape the worker API accepts', () => {
    const fn: FunctionVersion = { ...fakeFunction('hello'), environment: { GREETING: 'hi' }, timeoutSec: 30, memoryMb: 256 };
    const spec = environmentSpec(fn);
    assert.deepEqual(environmentSpecSchema.parse(spec), spec);
    assert.deepEqual(spec, {
      accountId: '000000000000', functionName: 'hello', version: '$LATEST', memoryMb: 256, timeoutSec: 30, ephemeralStorageMb: 512, environment: { GREETING: 'hi' },
      package: { type: 'Zip', code: fn.code, runtime: 'nodejs20.x', handler: 'index.handler' },
      sandboxDriver: 'default', network: 'none', logging: { format: 'Text', logGroup: '/aws/lambda/hello' },
    });
  });

  it('turns the sandbox tags into the driver and network, and passes only a ready snapshot on', () => {
    const tagged = environmentSpec({ ...fakeFunction('f'), tags: { 'stratus:sandbox': 'gvisor', 'stratus:network': 'outbound', team: 'x' } });
    assert.equal(tagged.sandboxDriver, 'gvisor');
    assert.equal(tagged.network, 'outbound');
    const image = { sha256: 'c'.repeat(64), size: 10 };
    assert.deepEqual(environmentSpec({ ...fakeFunction('f'), version: '1', snapshot: { status: 'ready', image } }).snapshot, image);
    assert.equal(environmentSpec({ ...fakeFunction('f'), version: '1', snapshot: { status: 'pending' } }).snapshot, undefined);
    assert.equal(environmentSpec({ ...fakeFunction('f'), version: '1', snapshot: { status: 'off', image } }).snapshot, undefined);
  });

  it('gives an image function its digest, the image config and the ImageConfig overrides, and no runtime', () => {
    const config = { entrypoint: ['/lambda-entrypoint.sh'], cmd: ['app.handler'], env: ['PATH=/usr/bin'], workingDir: '/var/task' };
    const fn: FunctionVersion = {
      ...fakeFunction('img'), runtime: undefined, code: { sha256: 'b'.repeat(64), size: 4096 },
      image: { uri: 'repo:latest', resolvedUri: `repo@${DIGEST}`, digest: DIGEST, config }, imageConfig: { command: ['other.handler'] },
    };
    const spec = environmentSpec(fn);
    assert.deepEqual(environmentSpecSchema.parse(spec), spec);
    assert.deepEqual(spec.package, { type: 'Image', code: fn.code, digest: DIGEST, config, overrides: { command: ['other.handler'] } });
  });

  it('gives every environment its LoggingConfig: the stored one, or the default for a function stored before it existed', () => {
    const json = environmentSpec({ ...fakeFunction('j'), loggingConfig: { logFormat: 'JSON', applicationLogLevel: 'WARN', systemLogLevel: 'DEBUG', logGroup: '/custom/group' } });
    assert.deepEqual(json.logging, { format: 'JSON', applicationLogLevel: 'WARN', systemLogLevel: 'DEBUG', logGroup: '/custom/group' });
    assert.deepEqual(environmentSpecSchema.parse(json), json);
    assert.deepEqual(environmentSpec({ ...fakeFunction('old'), loggingConfig: undefined }).logging, { format: 'Text', logGroup: '/aws/lambda/old' });
    const bad = { ...json, logging: { ...json.logging, logGroup: 'no spaces allowed' } };
    assert.throws(() => environmentSpecSchema.parse(bad));
    assert.throws(() => environmentSpecSchema.parse({ ...json, logging: undefined }));
  });
});
