// Lambda extensions in real sandboxes of a real `stratus up`: an external extension from a layer
// (/opt/extensions) registers, gets INVOKE and SHUTDOWN events, subscribes to the Telemetry API
// and receives platform and function records inside its sandbox; AWS_LAMBDA_EXEC_WRAPPER starts
// the Node.js and Python runtimes through a wrapper script. The attacks are in extensions-attacks.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, type CreateFunctionCommandInput } from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { aws } from '../helpers/aws-cli.js';
import { makeZip } from '../helpers/zip.js';
import { compileJava, jdkHome } from '../helpers/java.js';
import { FUNCTION, probeLayer, type Probe } from '../helpers/extensions.js';

const ROLE = 'arn:aws:iam::000000000000:role/lambda-role';
let stratus: StratusProcess;
let layerArn = '';

async function create(input: Partial<CreateFunctionCommandInput> & { FunctionName: string }, files: Record<string, string | Buffer> = { 'index.js': FUNCTION }, modes: Record<string, number> = {}): Promise<void> {
  await stratus.lambda.send(new CreateFunctionCommand({
    Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Timeout: 30, Code: { ZipFile: await makeZip(files, modes) }, ...input,
  }));
}

async function invoke(name: string, event: unknown = {}): Promise<Record<string, any>> {
  const out = await stratus.lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)) }));
  const text = Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8');
  assert.equal(out.FunctionError, undefined, text);
  return JSON.parse(text) as Record<string, any>;
}

/** The function's log lines (aws logs filter-log-events), once `found` holds for them. */
async function logLines(fn: string, found: (lines: string[]) => boolean): Promise<string[]> {
  let lines: string[] = [];
  for (let i = 0; i < 150; i++) {
    const r = await aws(stratus, ['logs', 'filter-log-events', '--log-group-name', `/aws/lambda/${fn}`]);
    lines = r.code === 0 ? (JSON.parse(r.stdout) as { events: { message: string }[] }).events.map((e) => e.message) : [];
    if (found(lines)) return lines;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`never found in /aws/lambda/${fn}:\n${lines.join('')}`);
}

const types = (p: Probe) => p.telemetry.map((r) => r.type);

before(async () => {
  stratus = await startStratus();
  layerArn = await probeLayer(stratus.lambda, 'probe-layer', ['probe']);
});

after(async () => {
  await stratus?.stop();
});

describe('an external extension from a layer', () => {
  it('registers, gets INVOKE for each invoke, and receives platform and function records through the Telemetry API', async () => {
    await create({ FunctionName: 'ext-node', Layers: [layerArn] });
    const first = await invoke('ext-node', { say: 'hello' });
    const probe = first.probe as Probe;
    assert.equal(probe.register.status, 200);
    assert.deepEqual(probe.register.body, { functionName: 'ext-node', functionVersion: '$LATEST', handler: 'index.handler', accountId: '000000000000' });
    assert.match(probe.register.id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(probe.subscribe, { status: 200, body: '"OK"' });
    const invokeEvent = probe.events.find((e) => e.requestId === first.requestId);
    assert.ok(invokeEvent, JSON.stringify(probe.events));
    assert.equal(invokeEvent.eventType, 'INVOKE');
    assert.equal(invokeEvent.invokedFunctionArn, 'arn:aws:lambda:us-east-1:000000000000:function:ext-node');
    assert.ok(typeof invokeEvent.deadlineMs === 'number' && invokeEvent.deadlineMs > Date.now() - 60_000);
    assert.equal(invokeEvent.tracing?.type, 'X-Amzn-Trace-Id');
    for (const t of ['platform.initStart', 'platform.extension', 'platform.telemetrySubscription', 'platform.initRuntimeDone', 'platform.initReport', 'platform.start']) {
      assert.ok(types(probe).includes(t), `${t} in ${types(probe).join(', ')}`);
    }
    assert.deepEqual(probe.telemetry.find((r) => r.type === 'platform.extension')?.record, { name: 'probe', state: 'Ready', events: ['INVOKE', 'SHUTDOWN'] });
    assert.ok(probe.telemetry.some((r) => r.type === 'function' && String(r.record).includes(`said hello in ${first.requestId}`)));
    for (const r of probe.telemetry) assert.match(r.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    // The same environment: the first invoke's runtimeDone and REPORT came once the extension was done with it.
    const second = await invoke('ext-node', { say: 'again' });
    const again = second.probe as Probe;
    assert.equal(again.register.id, probe.register.id, 'the environment was reused');
    assert.equal(again.events.filter((e) => e.eventType === 'INVOKE').length, 2);
    const report = again.telemetry.find((r) => r.type === 'platform.report' && r.record.requestId === first.requestId);
    assert.ok(report, types(again).join(', '));
    assert.equal(report.record.status, 'success');
    assert.ok(report.record.metrics.memorySizeMB === 128 && typeof report.record.metrics.durationMs === 'number');
    assert.equal(again.telemetry.find((r) => r.type === 'platform.runtimeDone' && r.record.requestId === first.requestId)?.record.status, 'success');
    // What the extension printed is an extension record, not a function record.
    const printed = (type: string) => again.telemetry.filter((r) => r.type === type && String(r.record).startsWith(`[probe] INVOKE`));
    assert.ok(printed('extension').some((r) => String(r.record).includes(first.requestId as string)), JSON.stringify(again.telemetry.filter((r) => r.type !== 'platform.start')));
    assert.deepEqual(printed('function'), []);
  });

  it('gets SHUTDOWN with a deadline when its environment is retired (aws lambda update-function-configuration)', async () => {
    const r = await aws(stratus, ['lambda', 'update-function-configuration', '--function-name', 'ext-node', '--description', 'retire the environment']);
    assert.equal(r.code, 0, r.stderr);
    const lines = await logLines('ext-node', (l) => l.some((m) => m.includes('[probe] SHUTDOWN')));
    const line = lines.find((m) => m.includes('[probe] SHUTDOWN')) ?? '';
    const event = JSON.parse(line.slice(line.indexOf('{'))) as { eventType: string; shutdownReason: string; deadlineMs: number };
    assert.equal(event.eventType, 'SHUTDOWN');
    assert.equal(event.shutdownReason, 'spindown');
    assert.ok(event.deadlineMs > Date.now() - 60_000);
    // Its INVOKE lines and the REPORTs went to the log as well.
    assert.ok(lines.some((m) => m.includes('[probe] INVOKE')));
    assert.ok(lines.filter((m) => m.startsWith('REPORT RequestId:')).length >= 2);
  });
});

describe('an external extension when its environment fails', () => {
  it('gets SHUTDOWN with reason timeout when an invoke times out', async () => {
    await create({ FunctionName: 'ext-timeout', Layers: [layerArn], Timeout: 1 });
    const out = await stratus.lambda.send(new InvokeCommand({ FunctionName: 'ext-timeout', Payload: Buffer.from('{"hang":true}') }));
    assert.equal(out.FunctionError, 'Unhandled');
    assert.match(Buffer.from(out.Payload ?? new Uint8Array()).toString(), /Sandbox\.Timedout/);
    const lines = await logLines('ext-timeout', (l) => l.some((m) => m.includes('[probe] SHUTDOWN')));
    const line = lines.find((m) => m.includes('[probe] SHUTDOWN')) ?? '';
    assert.equal((JSON.parse(line.slice(line.indexOf('{'))) as { shutdownReason: string }).shutdownReason, 'timeout');
  });
});

describe('AWS_LAMBDA_EXEC_WRAPPER', () => {
  const WRAPPER = '#!/bin/sh\nexport WRAPPED="$# args, first $1"\nexec "$@"\n';
  it('starts the Node.js runtime through the wrapper, the runtime\'s command line as its arguments', async () => {
    await create({ FunctionName: 'wrap-node', Environment: { Variables: { AWS_LAMBDA_EXEC_WRAPPER: '/var/task/wrapper.sh' } } }, {
      'index.js': 'exports.handler = async () => ({ wrapped: process.env.WRAPPED, argv: process.argv });\n',
      'wrapper.sh': WRAPPER,
    }, { 'wrapper.sh': 0o100755 });
    const r = await invoke('wrap-node');
    assert.match(String(r.wrapped), /^\d+ args, first \/\S*node$/);
    assert.ok((r.argv as string[]).includes('/var/runtime/bootstrap.cjs'), JSON.stringify(r.argv));
  });

  it('starts the Python runtime through the wrapper', async () => {
    await create({ FunctionName: 'wrap-py', Runtime: 'python3.11', Handler: 'app.handler', Environment: { Variables: { AWS_LAMBDA_EXEC_WRAPPER: '/var/task/wrapper.sh' } } }, {
      'app.py': 'import os, sys\ndef handler(event, context):\n    return {"wrapped": os.environ.get("WRAPPED"), "argv": sys.argv}\n',
      'wrapper.sh': WRAPPER,
    }, { 'wrapper.sh': 0o100755 });
    const r = await invoke('wrap-py');
    assert.match(String(r.wrapped), /^\d+ args, first \/\S*python\S*$/);
    assert.equal((r.argv as string[])[0], '/var/runtime/bootstrap.py');
  });

  it('starts the Java runtime through the wrapper', { skip: jdkHome() ? false : 'no OpenJDK 17 (scripts/setup.sh installs it)' }, async () => {
    const classes = await compileJava({ 'wrap/Handler.java': `package wrap;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.Map;
public class Handler implements RequestHandler<Map<String, Object>, String> {
  public String handleRequest(Map<String, Object> event, Context context) { return System.getenv("WRAPPED"); }
}
` });
    await create({ FunctionName: 'wrap-java', Runtime: 'java17', Handler: 'wrap.Handler::handleRequest', MemorySize: 512, Environment: { Variables: { AWS_LAMBDA_EXEC_WRAPPER: '/var/task/wrapper.sh' } } },
      { ...classes, 'wrapper.sh': WRAPPER }, { 'wrapper.sh': 0o100755 });
    const out = await stratus.lambda.send(new InvokeCommand({ FunctionName: 'wrap-java' }));
    const text = Buffer.from(out.Payload ?? new Uint8Array()).toString();
    assert.equal(out.FunctionError, undefined, text);
    assert.match(JSON.parse(text) as string, /^\d+ args, first \/\S*java$/);
  });

  it('a wrapper that does not exist fails the init as the runtime failing to start', async () => {
    await create({ FunctionName: 'wrap-missing', Environment: { Variables: { AWS_LAMBDA_EXEC_WRAPPER: '/var/task/nope.sh' } } }, { 'index.js': 'exports.handler = async () => 1;\n' });
    const out = await stratus.lambda.send(new InvokeCommand({ FunctionName: 'wrap-missing' }));
    assert.equal(out.FunctionError, 'Unhandled');
    assert.match(Buffer.from(out.Payload ?? new Uint8Array()).toString(), /Runtime\.ExitError/);
  });
});
