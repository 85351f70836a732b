// Extensions for the extension tests (test/integration/extensions*.test.ts): one Node.js script,
// published in a layer under /opt/extensions/<name>; what it does depends on its name.
//   probe:  registers for INVOKE and SHUTDOWN, subscribes to the Telemetry API (platform and
//           function records) on 127.0.0.1:4243 in its sandbox, and writes what it got to
//           /tmp/probe.json; while /tmp/stall exists it does not answer deliveries.
//   evil:   tries what a hostile extension would (a second registration, forged identifiers,
//           destinations outside the sandbox, buffering beyond Lambda's limits), writes the
//           answers to /tmp/evil.json, then subscribes to http://sandbox.localdomain:$HOST_PORT.
//   sleepy: registers for INVOKE and never asks for an event again after its first INVOKE.
//   crasher: exits with status 3 before registering.
import { PublishLayerVersionCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { makeZip } from './zip.js';

const EXTENSION = String.raw`
const http = require('http'), fs = require('fs'), path = require('path'), crypto = require('crypto');
const NAME = path.basename(__filename);
if (NAME === 'crasher') process.exit(3);
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
function call(method, p, headers, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request({ host, port, method, path: p, headers: { ...headers, ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) } }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: b }));
    });
    req.on('error', reject);
    req.end(data);
  });
}
const got = { name: NAME, events: [], telemetry: [], held: 0, attacks: [] };
const save = () => fs.writeFileSync('/tmp/' + NAME + '.json', JSON.stringify(got));
const held = [];
const server = http.createServer((q, r) => {
  let b = '';
  q.on('data', (c) => (b += c));
  q.on('end', () => {
    got.telemetry.push(...JSON.parse(b));
    if (fs.existsSync('/tmp/stall')) { held.push(r); got.held++; } else r.end('OK');
    save();
  });
});
setInterval(() => { if (!fs.existsSync('/tmp/stall')) while (held.length) held.shift().end('OK'); }, 20).unref();
const errorOf = (r) => { try { return JSON.parse(r.body).errorType; } catch { return r.body; } };
async function attack(what, method, p, headers, body) {
  const r = await call(method, p, headers, body);
  got.attacks.push({ what, status: r.status, errorType: errorOf(r) });
}
function subscription(uri, buffering = {}, protocol = 'HTTP') {
  return { schemaVersion: '2022-12-13', destination: { protocol, URI: uri }, types: ['platform', 'function', 'extension'], buffering: { maxItems: 1000, maxBytes: 262144, timeoutMs: 25, ...buffering } };
}
(async () => {
  const listenPort = NAME === 'evil' ? 4244 : 4243;
  // sandbox.localdomain is the sandbox's own loopback, as in Lambda.
  await new Promise((r) => server.listen(listenPort, NAME === 'evil' ? '127.0.0.1' : 'sandbox.localdomain', r));
  const events = NAME === 'sleepy' ? ['INVOKE'] : ['INVOKE', 'SHUTDOWN'];
  const reg = await call('POST', '/2020-01-01/extension/register', { 'Lambda-Extension-Name': NAME, 'Lambda-Extension-Accept-Feature': 'accountId' }, { events });
  const id = reg.headers['lambda-extension-identifier'];
  got.register = { status: reg.status, body: JSON.parse(reg.body), id };
  const T = '/2022-07-01/telemetry';
  if (NAME === 'evil') {
    const hostPort = process.env.HOST_PORT, forged = crypto.randomUUID();
    await attack('register again', 'POST', '/2020-01-01/extension/register', { 'Lambda-Extension-Name': NAME }, { events: ['INVOKE'] });
    await attack('next with a forged identifier', 'GET', '/2020-01-01/extension/event/next', { 'Lambda-Extension-Identifier': forged });
    await attack('subscribe with a forged identifier', 'PUT', T, { 'Lambda-Extension-Identifier': forged }, subscription('http://sandbox.localdomain:4244/'));
    for (const uri of ['http://127.0.0.1:' + hostPort + '/', 'http://localhost:' + hostPort + '/', 'http://sandbox.localdomain.example.com:' + hostPort + '/',
      'http://sandbox.localdomain:' + hostPort + '@127.0.0.1:' + hostPort + '/', 'https://sandbox.localdomain:' + hostPort + '/', 'http://[::1]:' + hostPort + '/', 'http://sandbox.localdomain/']) {
      await attack('destination ' + uri, 'PUT', T, { 'Lambda-Extension-Identifier': id }, subscription(uri));
    }
    await attack('TCP destination', 'PUT', T, { 'Lambda-Extension-Identifier': id }, subscription('http://sandbox.localdomain:4244/', {}, 'TCP'));
    for (const b of [{ maxItems: 20000 }, { maxBytes: 2 * 1048576 }, { timeoutMs: 10 }, { timeoutMs: 60000 }]) {
      await attack('buffering ' + JSON.stringify(b), 'PUT', T, { 'Lambda-Extension-Identifier': id }, subscription('http://sandbox.localdomain:4244/', b));
    }
    await attack('subscribe to a port of the host', 'PUT', T, { 'Lambda-Extension-Identifier': id }, subscription('http://sandbox.localdomain:' + hostPort + '/'));
  } else if (NAME === 'probe') {
    const sub = await call('PUT', T, { 'Lambda-Extension-Identifier': id }, subscription('http://sandbox.localdomain:4243/telemetry'));
    got.subscribe = { status: sub.status, body: sub.body };
  }
  save();
  for (;;) {
    const ev = await call('GET', '/2020-01-01/extension/event/next', { 'Lambda-Extension-Identifier': id });
    const e = JSON.parse(ev.body);
    got.events.push(e);
    save();
    console.log('[' + NAME + '] ' + e.eventType + ' ' + JSON.stringify(e));
    if (e.eventType === 'SHUTDOWN') process.exit(0);
    if (NAME === 'sleepy') await new Promise(() => {});
  }
})().catch((e) => { console.log('[' + NAME + '] failed ' + e.stack); process.exit(1); });
`;

/** The function the tests invoke: it waits (at most 15 s) until the probe has seen its invoke, then returns what the extensions wrote. */
export const FUNCTION = String.raw`
const fs = require('fs');
const read = (n) => { try { return JSON.parse(fs.readFileSync('/tmp/' + n + '.json', 'utf8')); } catch { return undefined; } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(f, ms = 15000) { const end = Date.now() + ms; for (;;) { const v = f(); if (v || Date.now() > end) return v; await sleep(20); } }
exports.handler = async (event, context) => {
  const id = context.awsRequestId;
  if (event.hang) await sleep(600000);
  if (event.flood) {
    fs.writeFileSync('/tmp/stall', '');
    console.log('flood-start ' + id);
    await until(() => (read('probe')?.held ?? 0) > 0);
    const line = 'x'.repeat(100) + '\n';
    for (let i = 0; i < event.flood / 1000; i++) process.stdout.write(line.repeat(1000));
    await sleep(200);
    fs.unlinkSync('/tmp/stall');
    const done = await until(() => read('probe')?.telemetry.some((r) => r.type === 'platform.logsDropped'));
    const p = read('probe');
    return { done, held: p.held, functionRecords: p.telemetry.filter((r) => r.type === 'function').length, dropped: p.telemetry.filter((r) => r.type === 'platform.logsDropped').map((r) => r.record) };
  }
  console.log('said ' + (event.say ?? 'nothing') + ' in ' + id);
  const seen = (p) => p && p.events.some((e) => e.requestId === id) && p.telemetry.some((r) => r.type === 'function' && String(r.record).includes(' in ' + id));
  const probe = event.noProbe ? undefined : await until(() => (seen(read('probe')) ? read('probe') : undefined));
  return { requestId: id, probe: probe ?? read('probe'), evil: read('evil'), sleepy: read('sleepy') };
};
`;

/** A layer whose /opt/extensions holds the extensions `names`; its ARN. */
export async function probeLayer(lambda: LambdaClient, layerName: string, names: string[]): Promise<string> {
  const script = `#!${process.execPath}\n${EXTENSION}`;
  const files = Object.fromEntries(names.map((n) => [`extensions/${n}`, script]));
  const modes = Object.fromEntries(names.map((n) => [`extensions/${n}`, 0o100755]));
  const out = await lambda.send(new PublishLayerVersionCommand({ LayerName: layerName, Content: { ZipFile: await makeZip(files, modes) } }));
  return out.LayerVersionArn ?? '';
}

export interface Probe {
  name: string;
  register: { status: number; body: Record<string, string>; id: string };
  subscribe?: { status: number; body: string };
  events: { eventType: string; requestId?: string; invokedFunctionArn?: string; deadlineMs?: number; tracing?: { type: string; value: string } }[];
  telemetry: { time: string; type: string; record: any }[];
  held: number;
  attacks: { what: string; status: number; errorType: string }[];
}
