import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseImageUri } from './image-uri.js';

describe('ImageUri', () => {
  it('splits registry, repository and tag or digest', () => {
    assert.deepEqual(parseImageUri('127.0.0.1:5000/team/app:v1'), { registry: '127.0.0.1:5000', repository: 'team/app', reference: 'v1', uri: '127.0.0.1:5000/team/app:v1' });
    const digest = `sha256:${'a'.repeat(64)}`;
    assert.equal(parseImageUri(`123456789012.dkr.ecr.us-east-1.amazonaws.com/app@${digest}`).reference, digest);
  });

  it('refuses a URI without registry, without tag, or with a bad repository', () => {
    for (const uri of ['app:v1', '127.0.0.1:5000/app', '127.0.0.1:5000/App:v1', 'localhost/app@sha256:12']) {
      assert.throws(() => parseImageUri(uri), { code: 'InvalidParameterValue' }, uri);
    }
  });
});
