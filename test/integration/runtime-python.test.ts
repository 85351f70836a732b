// python3.11 functions run with Stratus's Python runtime client in a real sandbox.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateFunctionCommand, InvokeCommand, PublishLayerVersionCommand } from '@aws-sdk/client-lambda';
import { startStratus, type StratusProcess } from '../helpers/stratus.js';
import { makeZip } from '../helpers/zip.js';

const APP = `
import os, uuid
INSTANCE = uuid.uuid4().hex
calls = 0

def handler(event, context):
    global calls
    calls += 1
    print("hello from python", context.aws_request_id)
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {
        "echo": event, "calls": calls, "instance": INSTANCE,
        "function": context.function_name, "memory": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(), "uid": os.getuid(),
    }
`;

describe('python3.11 runtime', () => {
  let s: StratusProcess;
  const invoke = async (event: unknown) => {
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'py', Payload: Buffer.from(JSON.stringify(event)), LogType: 'Tail' }));
    return { error: out.FunctionError, body: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Record<string, unknown>, log: Buffer.from(out.LogResult ?? '', 'base64').toString(), id: out.$metadata.requestId };
  };

  before(async () => {
    s = await startStratus();
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'py', Runtime: 'python3.11', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'app.handler', Timeout: 5, MemorySize: 256,
      Code: { ZipFile: await makeZip({ 'app.py': APP }) },
    }));
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'py-missing', Runtime: 'python3.11', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'nothere.handler',
      Code: { ZipFile: await makeZip({ 'app.py': APP }) },
    }));
  });
  after(() => s.stop());

  test('a function or layer with its own logging.py, threading.py or string.py gets the standard library\'s, as in Lambda', async () => {
    // In Lambda the runtime has imported these before the task root and /opt/python go on sys.path,
    // so \`import logging\` in a handler is the standard library's module from sys.modules.
    const shadow = (name: string) => `MARK = "${name} from the function's own files"\nraise ImportError("${name}.py of the function was imported")\n`;
    const layer = await s.lambda.send(new PublishLayerVersionCommand({
      LayerName: 'shadows', Content: { ZipFile: await makeZip({ 'python/string.py': shadow('string'), 'python/weakref.py': shadow('weakref') }) },
    }));
    await s.lambda.send(new CreateFunctionCommand({
      FunctionName: 'py-shadow', Runtime: 'python3.11', Role: 'arn:aws:iam::123456789012:role/r', Handler: 'app.handler', Timeout: 5, MemorySize: 256,
      Layers: [layer.LayerVersionArn ?? ''],
      Code: { ZipFile: await makeZip({
        'logging.py': shadow('logging'), 'threading.py': shadow('threading'), 'traceback.py': shadow('traceback'),
        'app.py': 'import logging, string, threading, traceback, weakref\n'
          + 'def handler(event, context):\n'
          + '    logging.getLogger().warning("logged through the stdlib")\n'
          + '    return {m.__name__: m.__file__ for m in (logging, string, threading, traceback, weakref)}\n',
      }) },
    }));
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'py-shadow', LogType: 'Tail' }));
    const body = Buffer.from(out.Payload ?? []).toString();
    assert.equal(out.FunctionError, undefined, body);
    const files = JSON.parse(body) as Record<string, string>;
    for (const [name, file] of Object.entries(files)) assert.match(file, /^\/usr\/lib\/python3\.11\//, `${name} is the standard library's`);
    assert.deepEqual(Object.keys(files).sort(), ['logging', 'string', 'threading', 'traceback', 'weakref']);
    assert.match(Buffer.from(out.LogResult ?? '', 'base64').toString(), /\[WARNING\].*logged through the stdlib/);
  });

  test('a handler returns JSON with Lambda context, keeps module state warm, and prints to the log', async () => {
    const first = await invoke({ a: 1 });
    assert.equal(first.error, undefined);
    assert.deepEqual(first.body.echo, { a: 1 });
    assert.equal(first.body.function, 'py');
    assert.equal(first.body.uid, 993);
    assert.ok(Number(first.body.remaining) > 0 && Number(first.body.remaining) <= 5000);
    assert.match(first.log, new RegExp(`hello from python ${first.id}`));
    const second = await invoke({ a: 2 });
    assert.equal(second.body.calls, 2);
    assert.equal(second.body.instance, first.body.instance);
  });

  test('an exception is a function error in the Python shape, and the runtime keeps serving', async () => {
    const r = await invoke({ fail: true });
    assert.equal(r.error, 'Unhandled');
    assert.equal(r.body.errorType, 'ValueError');
    assert.equal(r.body.errorMessage, 'asked to fail');
    assert.ok(Array.isArray(r.body.stackTrace));
    assert.equal((await invoke({})).error, undefined);
  });

  test('a missing module is Runtime.ImportModuleError', async () => {
    const out = await s.lambda.send(new InvokeCommand({ FunctionName: 'py-missing', Payload: Buffer.from('{}') }));
    const body = JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Record<string, unknown>;
    assert.equal(out.FunctionError, 'Unhandled');
    assert.equal(body.errorType, 'Runtime.ImportModuleError');
    assert.equal(body.errorMessage, "Unable to import module 'nothere': No module named 'nothere'");
  });
});
