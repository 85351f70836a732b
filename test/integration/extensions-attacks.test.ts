// Hostile extensions in real sandboxes of a real `stratus up` (see test/helpers/extensions.ts for
// what each does): a second registration, forged identifiers, Telemetry destinations outside the
// sandbox and buffering beyond Lambda's limits are refused, and a destination that names a port
// of the host reaches nothing outside the sandbox; one function's extension never sees another's
// telemetry; a flood of output against a listener that does not answer is dropped, not buffered
// without bound; an extension that crashes during init or never finishes an invoke ends its
// environment as Lambda does.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, type CreateFunctionCommandInput } from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { aws } from '../helpers/aws-cli.js';
import { makeZip } from '../helpers/zip.js';
import { FUNCTION, probeLayer, type Probe } from '../helpers/extensions.js';

const ROLE = 'arn:aws:iam::000000000000:role/lambda-role';
let stratus: StratusProcess;
let hostListener: Server;
let hostPort = 0;
let hostConnections = 0;
const layers: Record<string, string> = {};

async function create(input: Partial<CreateFunctionCommandInput> & { FunctionName: string }): Promise<void> {
  await stratus.lambda.send(new CreateFunctionCommand({
    Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: 30, Code: { ZipFile: await makeZip({ 'index.js': FUNCTION }) }, ...input,
  }));
}

async function invokeRaw(name: string, event: unknown = {}): Promise<{ error?: string; body: Record<string, any> }> {
  const out = await stratus.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }));
  return { error: out.FunctionError, body: JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8')) as Record<string, any> };
}

async function invoke(name: string, event: unknown = {}): Promise<Record<string, any>> {
  const r = await invokeRaw(name, event);
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  return r.body;
}

before(async () => {
  hostListener = createServer((s) => {
    hostConnections++;
    s.destroy();
  });
  await new Promise<void>((resolve) => hostListener.listen(0, '127.0.0.1', resolve));
  hostPort = (hostListener.address() as { port: number }).port;
  stratus = await startStratus();
  layers.probe = await probeLayer(stratus.lambda, 'probe', ['probe']);
  layers.evil = await probeLayer(stratus.lambda, 'evil', ['evil', 'probe']);
  layers.crash = await probeLayer(stratus.lambda, 'crash', ['crasher']);
  layers.sleepy = await probeLayer(stratus.lambda, 'sleepy', ['sleepy']);
});

after(async () => {
  await stratus?.stop();
  await new Promise((resolve) => hostListener?.close(resolve));
});

describe('attacks through the Extensions and Telemetry APIs', () => {
  it('a second registration, forged identifiers, outside destinations and buffering beyond the limits are refused', async () => {
    await create({ FunctionName: 'ext-evil', Layers: [layers.evil ?? ''], Environment: { Variables: { HOST_PORT: String(hostPort) } } });
    const r = await invoke('ext-evil');
    const attacks = new Map((r.evil as Probe).attacks.map((a) => [a.what, a]));
    const expect = (what: string, status: number, errorType: string) => assert.deepEqual(attacks.get(what), { what, status, errorType }, what);
    assert.equal(attacks.size, 16, JSON.stringify([...attacks.keys()]));
    expect('register again', 403, 'Extension.InvalidExtensionState');
    expect('next with a forged identifier', 403, 'Extension.UnknownExtensionIdentifier');
    expect('subscribe with a forged identifier', 403, 'Extension.UnknownExtensionIdentifier');
    for (const uri of [`http://127.0.0.1:${hostPort}/`, `http://localhost:${hostPort}/`, `http://sandbox.localdomain.example.com:${hostPort}/`,
      `http://sandbox.localdomain:${hostPort}@127.0.0.1:${hostPort}/`, `https://sandbox.localdomain:${hostPort}/`, `http://[::1]:${hostPort}/`, 'http://sandbox.localdomain/']) {
      expect(`destination ${uri}`, 400, 'ValidationError');
    }
    expect('TCP destination', 400, 'ValidationError');
    for (const b of [{ maxItems: 20000 }, { maxBytes: 2 * 1048576 }, { timeoutMs: 10 }, { timeoutMs: 60000 }]) expect(`buffering ${JSON.stringify(b)}`, 400, 'ValidationError');
    // Accepted: sandbox.localdomain is the sandbox's own loopback, whatever port it names.
    assert.equal(attacks.get('subscribe to a port of the host')?.status, 200);
  });

  it('a subscription naming a port of the host delivers into the sandbox only: the host\'s listener is never reached', async () => {
    // Several invokes, each with records for both subscriptions; the probe's own arrive (delivery works).
    for (let i = 0; i < 3; i++) {
      const r = await invoke('ext-evil', { say: `round ${i}` });
      assert.ok((r.probe as Probe).telemetry.some((t) => t.type === 'platform.start' && t.record.requestId === r.requestId));
    }
    assert.equal(hostConnections, 0);
  });

  it('an extension sees its own function\'s telemetry only', async () => {
    await create({ FunctionName: 'ext-a', Layers: [layers.probe ?? ''] });
    await create({ FunctionName: 'ext-b', Layers: [layers.probe ?? ''] });
    const secret = `secret-${randomUUID()}`;
    const b = await invoke('ext-b', { say: secret });
    assert.ok((b.probe as Probe).telemetry.some((t) => String(t.record).includes(secret)), 'b\'s own extension got it');
    const a = await invoke('ext-a', { say: 'a' });
    const seenByA = JSON.stringify((a.probe as Probe).telemetry);
    assert.ok(!seenByA.includes(secret), 'a\'s extension saw b\'s output');
    assert.ok(!seenByA.includes(b.requestId as string), 'a\'s extension saw b\'s requestId');
  });

  it('a flood of output against a listener that does not answer is dropped past the buffer (platform.logsDropped), not held', async () => {
    await create({ FunctionName: 'ext-flood', Layers: [layers.probe ?? ''], Timeout: 60 });
    const lines = 30_000;
    const r = await invoke('ext-flood', { flood: lines });
    assert.equal(r.done, true, JSON.stringify(r));
    assert.ok(r.held >= 1, 'the first delivery was held');
    // At most one delivery in flight and one buffer (maxItems 1000) behind it, plus what came after.
    assert.ok(r.functionRecords < 5000, `function records delivered: ${r.functionRecords}`);
    const dropped = (r.dropped as { droppedRecords: number; droppedBytes: number }[]).reduce((n, d) => n + d.droppedRecords, 0);
    assert.ok(dropped > lines / 2, `dropped: ${dropped}`);
  });
});

describe('extension failures', () => {
  it('an extension that exits during init fails the init with Extension.Crash', async () => {
    await create({ FunctionName: 'ext-crash', Layers: [layers.crash ?? ''] });
    const r = await invokeRaw('ext-crash', { noProbe: true });
    assert.equal(r.error, 'Unhandled');
    assert.equal(r.body.errorType, 'Extension.Crash');
    assert.match(String(r.body.errorMessage), /exit status 3/);
  });

  it('an extension that never finishes an invoke: the caller has its answer, the invoke times out and the environment is not reused', async () => {
    await create({ FunctionName: 'ext-sleepy', Layers: [layers.sleepy ?? ''], Timeout: 2 });
    const first = await invoke('ext-sleepy', { noProbe: true });
    const id = first.requestId as string;
    let report = '';
    for (let i = 0; i < 150 && !report; i++) {
      const out = await aws(stratus, ['logs', 'filter-log-events', '--log-group-name', '/aws/lambda/ext-sleepy']);
      const messages = out.code === 0 ? (JSON.parse(out.stdout) as { events: { message: string }[] }).events.map((e) => e.message) : [];
      report = messages.find((m) => m.startsWith(`REPORT RequestId: ${id}`)) ?? '';
      if (!report) await new Promise((res) => setTimeout(res, 200));
    }
    assert.match(report, /Status: timeout/);
    const second = await invoke('ext-sleepy', { noProbe: true });
    assert.notEqual((second.sleepy as Probe).register.id, (first.sleepy as Probe).register.id, 'a new environment');
  });
});
