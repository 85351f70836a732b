// Network: off by default; `stratus:network=outbound` (a function tag) gives a sandbox a route
// out, but never to the host's loopback, where the control plane listens.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, TagResourceCommand, UntagResourceCommand } from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { startTestHost, type TestHost } from '../helpers/test-host.js';
import { makeZip } from '../helpers/zip.js';

const CODE = `
const net = require('net');
const get = (host, port) => new Promise((resolve) => {
  const s = net.connect({ host, port });
  let data = '';
  const done = (r) => { s.destroy(); resolve(r); };
  s.setTimeout(3000, () => done('TIMEOUT'));
  s.once('connect', () => s.write('GET / HTTP/1.0\\r\\n\\r\\n'));
  s.on('data', (d) => (data += d));
  s.once('end', () => done(data.split('\\r\\n\\r\\n')[1] ?? data));
  s.once('error', (e) => done(e.code));
});
exports.handler = async (e) => ({
  testHost: await get(e.host, e.port),
  stratusViaLoopback: await get('127.0.0.1', e.stratusPort),
  stratusViaGateway: await get('10.0.2.2', e.stratusPort),
});`;

const canMakeHosts = (() => {
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
})();

describe('sandbox network', { skip: canMakeHosts ? false : 'needs root and iproute2 to make a test host' }, () => {
  let s: StratusProcess;
  let host: TestHost;
  let arn = '';
  const probe = async (name: string) => {
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify({ host: host.address, port: host.port, stratusPort: s.port })) }));
    assert.equal(out.FunctionError, undefined);
    return JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Record<string, string>;
  };

  before(async () => {
    host = await startTestHost();
    s = await startStratus();
    const common = { Runtime: 'nodejs20.x' as const, Role: 'arn:aws:iam::123456789012:role/r', Handler: 'index.handler', Timeout: 15 };
    const zip = await makeZip({ 'index.js': CODE });
    await s.lambda.send(new CreateFunctionCommand({ ...common, FunctionName: 'closed', Code: { ZipFile: zip } }));
    const open = await s.lambda.send(new CreateFunctionCommand({ ...common, FunctionName: 'open', Code: { ZipFile: zip }, Tags: { 'stratus:network': 'outbound' } }));
    arn = open.FunctionArn ?? '';
  });
  after(async () => {
    await s?.stop();
    await host?.stop();
  });

  test('by default a sandbox has no route anywhere', async () => {
    const r = await probe('closed');
    assert.equal(r.testHost, 'ENETUNREACH');
    assert.equal(r.stratusViaLoopback, 'ECONNREFUSED');
    assert.equal(r.stratusViaGateway, 'ENETUNREACH');
  });

  test('with stratus:network=outbound it reaches other hosts, but not the host loopback', async () => {
    const r = await probe('open');
    assert.equal(r.testHost, 'hello from the test host');
    assert.equal(r.stratusViaLoopback, 'ECONNREFUSED', 'its own loopback is not the host one');
    assert.notEqual(r.stratusViaGateway, 'TIMEOUT');
    assert.doesNotMatch(String(r.stratusViaGateway), /Stratus|Lambda|message/i, 'the control plane is not reachable through the gateway');
  });

  test('removing the tag takes the network away from new sandboxes', async () => {
    await s.lambda.send(new UntagResourceCommand({ Resource: arn, TagKeys: ['stratus:network'] }));
    assert.equal((await probe('open')).testHost, 'ENETUNREACH');
    await s.lambda.send(new TagResourceCommand({ Resource: arn, Tags: { 'stratus:network': 'outbound' } }));
    assert.equal((await probe('open')).testHost, 'hello from the test host');
  });
});
