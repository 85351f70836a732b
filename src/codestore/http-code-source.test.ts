import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testTrust } from '../../test/helpers/test-trust.js';
import type { Authenticate } from '../shared/cluster-api.js';
import { isStratusError } from '../shared/errors.js';
import { HttpServer } from '../shared/http-server.js';
import { InternalClient } from '../shared/internal-client.js';
import { downloadRoutes } from './download-routes.js';
import { HttpCodeSource } from './http-code-source.js';
import { MemoryChunkStore } from './memory-chunk-store.js';
import { MemoryCodeStore } from './memory-code-store.js';

const TRUST = testTrust();
const W1 = 'Bearer w1-credential-0123456789';
const asWorker: Authenticate = (authorization) => (authorization === W1 ? { kind: 'worker', workerId: 'w1' } : { refused: 401, message: 'unknown credential' });
const client = (authorization: string) => new InternalClient({ authorization, ca: TRUST.ca.certPem });

describe('HttpCodeSource over the download routes', () => {
  const code = new MemoryCodeStore();
  const chunks = new MemoryChunkStore();
  const server = new HttpServer({
    routes: downloadRoutes({ authenticate: asWorker, code, chunks }),
    tls: TRUST.controlPlaneIdentity(),
    notFound: () => ({ status: 404 }),
    errorReply: () => ({ status: 500 }),
  });
  let url = '';
  before(async () => {
    url = `https://127.0.0.1:${(await server.listen('127.0.0.1', 0)).port}`;
  });
  after(() => server.close());

  it('fetches a package and a chunk as stored', async () => {
    const ref = await code.put(Buffer.from('zip bytes'));
    const { sha256 } = await chunks.putChunk(Buffer.from('chunk bytes'));
    const source = new HttpCodeSource(url, client(W1));
    assert.equal((await source.get(ref)).toString(), 'zip bytes');
    assert.equal((await source.getChunk(sha256)).toString(), 'chunk bytes');
  });

  it("keeps the control plane's error code: a missing package or chunk is ResourceNotFound, an unknown image is absent", async () => {
    const source = new HttpCodeSource(url, client(W1));
    const missing = (e: unknown) => isStratusError(e) && e.code === 'ResourceNotFound';
    await assert.rejects(source.get({ sha256: 'a'.repeat(64), size: 1 }), missing);
    await assert.rejects(source.getChunk('b'.repeat(64)), missing);
    assert.equal(await source.getImage(`sha256:${'c'.repeat(64)}`), undefined);
  });

  it('an unknown credential, or the control plane\'s, is Forbidden, never mistaken for a missing package', async () => {
    const ref = await code.put(Buffer.from('secret zip'));
    const source = new HttpCodeSource(url, client('Bearer wrong-credential'));
    await assert.rejects(source.get(ref), (e) => isStratusError(e) && e.code === 'Forbidden');
    await assert.rejects(source.getImage(`sha256:${'c'.repeat(64)}`), (e) => isStratusError(e) && e.code === 'Forbidden');
    const controlPlane = new HttpCodeSource(url, new InternalClient(TRUST.controlPlane));
    await assert.rejects(controlPlane.get(ref), (e) => isStratusError(e) && e.code === 'Forbidden');
  });
});
