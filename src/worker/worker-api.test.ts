import assert from 'node:assert/strict';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { actingFor } from '../../test/helpers/acting-for.js';
import { fakeSpec, FakeWorker } from '../../test/helpers/fake-worker.js';
import { testTrust } from '../../test/helpers/test-trust.js';
import { workerServerName } from '../shared/tls.js';
import { isStratusError } from '../shared/errors.js';
import { InternalClient } from '../shared/internal-client.js';
import { silentLogger } from '../shared/log.js';
import { FencedWorkerAgent } from './fencing.js';
import { RemoteWorkerAgent } from './remote-agent.js';
import { WorkerApiServer } from './worker-api.js';

const TRUST = testTrust();
const AUTHORIZATION = TRUST.controlPlane.authorization;
/** A raw request to worker w1's API, trusting the test CA. */
const request = (url: string, opts: RequestOptions, callback?: Parameters<typeof httpsRequest>[2]) =>
  httpsRequest(url, { ...opts, ca: TRUST.ca.certPem, servername: workerServerName('w1') }, callback);

describe('WorkerApiServer fencing', () => {
  const worker = new FakeWorker('w1');
  const server = new WorkerApiServer(new FencedWorkerAgent(worker), TRUST.authenticate, silentLogger(), TRUST.workerIdentity('w1'));
  let url = '';
  const handle = (epoch?: number) => {
    const agent = new RemoteWorkerAgent('w1', url, new InternalClient(TRUST.controlPlane), worker.status(), silentLogger());
    return epoch === undefined ? agent : actingFor(agent, epoch);
  };
  before(async () => {
    const address = await server.listen('127.0.0.1', 0);
    url = `https://127.0.0.1:${address.port}`;
  });
  after(() => server.close());

  it('after a fence at epoch N, requests of an older leadership are refused and newer ones pass', async () => {
    const leader5 = handle(5);
    await leader5.createEnvironment('00000000-0000-4000-8000-000000000001', fakeSpec('f'));
    assert.deepEqual(await handle(7).environments(7), [{ envId: '00000000-0000-4000-8000-000000000001', busy: false }]);
    await assert.rejects(leader5.destroyEnvironment('00000000-0000-4000-8000-000000000001'), (err) => isStratusError(err) && err.code === 'Fenced');
    await assert.rejects(leader5.invoke('00000000-0000-4000-8000-000000000001', {
      requestId: 'r', payload: Buffer.from('{}'), invokedFunctionArn: 'arn', traceId: 't', tailLog: false, epoch: 5,
    }), (err) => isStratusError(err) && err.code === 'Fenced');
    assert.deepEqual(worker.destroyed, [], 'the fenced request did nothing');
    await handle(7).destroyEnvironment('00000000-0000-4000-8000-000000000001');
    assert.deepEqual(worker.destroyed, ['00000000-0000-4000-8000-000000000001']);
    await handle(undefined).environments();
  });

  it('an invoke whose body is still arriving when a newer leadership fences the worker is refused, not run', async () => {
    const envId = '00000000-0000-4000-8000-000000000002';
    await handle(9).createEnvironment(envId, fakeSpec('g'));
    // Headers of a leadership at epoch 9 arrive; its body is held back.
    const req = request(`${url}/worker/v1/environments/${envId}/invocations`, {
      method: 'POST', headers: { authorization: AUTHORIZATION, 'x-stratus-epoch': '9', 'x-stratus-request-id': 'r2', 'content-length': '2' },
    });
    const reply = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString())).on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
    });
    req.flushHeaders();
    await new Promise((r) => setTimeout(r, 50));
    // Meanwhile a new leader fences the worker and lists its environments: the invoke is not among the busy ones.
    const listed = await handle(10).environments(10);
    assert.deepEqual(listed.find((e) => e.envId === envId), { envId, busy: false });
    req.end('{}');
    const { status, body } = await reply;
    // Had it reached the agent it would have run on an environment the new leader thinks idle (a
    // double grant: the second invoke fails and its environment is destroyed under the first).
    assert.equal(status, 409, body);
    assert.match(body, /Fenced/);
  });

  it('an environment is created from the spec as sent; a malformed spec is refused with 400 InvalidRequestContent', async () => {
    const envId = '00000000-0000-4000-8000-000000000003';
    const spec = { ...fakeSpec('h', 256), environment: { GREETING: 'hi' }, network: 'outbound' as const };
    await handle(10).createEnvironment(envId, spec);
    assert.deepEqual(worker.specs.get(envId), spec);

    const post = (body: string, extra: Record<string, string> = {}) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${url}/worker/v1/environments`, { method: 'POST', headers: { authorization: AUTHORIZATION, 'content-type': 'application/json', ...extra } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString())).on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    const bad = [
      '{not json',
      JSON.stringify({ envId: '00000000-0000-4000-8000-000000000004', spec: { ...fakeSpec('i'), memoryMb: 'lots' } }),
      JSON.stringify({ envId: '00000000-0000-4000-8000-000000000004', spec: { ...fakeSpec('i'), package: { type: 'Zip', runtime: 'cobol', handler: 'x', code: { sha256: 'a'.repeat(64), size: 1 } } } }),
      JSON.stringify({ envId: '00000000-0000-4000-8000-000000000004', fn: fakeSpec('i') }),
      // Beyond Lambda's bounds: a timeout that would overflow the timer, a /tmp without limit.
      JSON.stringify({ envId: '00000000-0000-4000-8000-000000000004', spec: { ...fakeSpec('i'), timeoutSec: 3_000_000 } }),
      JSON.stringify({ envId: '00000000-0000-4000-8000-000000000004', spec: { ...fakeSpec('i'), ephemeralStorageMb: 1_000_000 } }),
      // Variables the launcher owns, or that would smuggle more entries into the NUL-separated environ file.
      JSON.stringify({ envId: '00000000-0000-4000-8000-000000000004', spec: { ...fakeSpec('i'), environment: { AWS_LAMBDA_RUNTIME_API: 'evil:9001' } } }),
      JSON.stringify({ envId: '00000000-0000-4000-8000-000000000004', spec: { ...fakeSpec('i'), environment: { OK: 'x\u0000LD_PRELOAD=/tmp/x.so' } } }),
      JSON.stringify({ envId: '00000000-0000-4000-8000-000000000004', spec: { ...fakeSpec('i'), environment: { 'A=B': 'x' } } }),
    ];
    for (const body of bad) {
      const reply = await post(body);
      assert.equal(reply.status, 400, body);
      assert.equal((JSON.parse(reply.body) as { code: string }).code, 'InvalidRequestContent', reply.body);
    }
    assert.ok(!worker.created.includes('00000000-0000-4000-8000-000000000004'), 'no malformed request reached the agent');
  });

  it('a fencing epoch that is not a plain integer is refused and leaves the fence where it was', async () => {
    const post = (epoch: string) => new Promise<number>((resolve, reject) => {
      const req = request(`${url}/worker/v1/fence`, { method: 'POST', headers: { authorization: AUTHORIZATION, 'x-stratus-epoch': epoch } }, (res) => {
        res.resume().on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    for (const epoch of ['abc', 'Infinity', '-1', '1e9', '99999999999999999999']) assert.equal(await post(epoch), 400, epoch);
    const before = await handle(12).environments(12);
    await assert.rejects(handle(11).environments(11), (err) => isStratusError(err) && err.code === 'Fenced', 'an older leadership is still fenced out');
    assert.ok(Array.isArray(before));
  });
});
