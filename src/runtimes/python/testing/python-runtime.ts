/**
 * Shared by the Python runtime's tests (bootstrap*.test.ts): runs src/runtimes/python/bootstrap.py
 * with the host's /usr/bin/python3 against the fake Runtime API shared with the Node.js runtime
 * tests, with a temporary LAMBDA_TASK_ROOT per test.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeRuntimeApi, startRuntime, type Posted, type RuntimeProcess } from '../../nodejs/testing/fake-runtime-api.js';

export const PYTHON = '/usr/bin/python3';
export const BOOTSTRAP = fileURLToPath(new URL('../../../../../src/runtimes/python/bootstrap.py', import.meta.url));

export interface PyError {
  errorMessage: string;
  errorType: string;
  requestId: string;
  stackTrace: string[];
}

export type PyRuntime = RuntimeProcess;

/** Spawn the runtime as the worker does. No byte-code writes, so tests leave no __pycache__ in src/. */
export function startPython(env: Record<string, string>): PyRuntime {
  return startRuntime({ PYTHONDONTWRITEBYTECODE: '1', ...env }, [PYTHON, '-u', BOOTSTRAP]);
}

export async function killChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid, 'SIGKILL');
  await gone;
}

export interface Fixture {
  taskRoot: string;
  api: FakeRuntimeApi;
  /** Connections the fake API accepted. */
  connections(): number;
  start(handler: string, extra?: Record<string, string>): PyRuntime;
}

export async function withFixture(
  files: Record<string, string>,
  fn: (f: Fixture) => Promise<void>,
  opts: { tcp?: boolean } = {},
): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'stratus-rt-python-'));
  const taskRoot = path.join(dir, 'task');
  await mkdir(taskRoot, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(taskRoot, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  const api = new FakeRuntimeApi();
  let connections = 0;
  // The fake does not count connections; its server is private, so reach in.
  (api as unknown as { server: Server }).server.on('connection', () => connections++);
  const address = await api.listen(opts.tcp ? undefined : path.join(dir, 'rapid.sock'));
  const children: ChildProcess[] = [];
  const f: Fixture = {
    taskRoot,
    api,
    connections: () => connections,
    start(handler, extra = {}) {
      const rt = startPython({
        ...(opts.tcp
          ? { AWS_LAMBDA_RUNTIME_API: address }
          : { STRATUS_RUNTIME_API_SOCKET: address, AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001' }),
        _HANDLER: handler,
        LAMBDA_TASK_ROOT: taskRoot,
        LAMBDA_RUNTIME_DIR: '/var/runtime',
        AWS_EXECUTION_ENV: 'AWS_Lambda_python3.11',
        AWS_LAMBDA_FUNCTION_NAME: 'fn',
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
        AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/fn',
        AWS_LAMBDA_LOG_STREAM_NAME: '2024/01/01/[$LATEST]abc',
        ...extra,
      });
      children.push(rt.child);
      return rt;
    },
  };
  try {
    await fn(f);
  } finally {
    for (const child of children) await killChild(child);
    await api.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export const ECHO = `def handler(event, context):\n    return {"echo": event}\n`;

/** Start `handler`, send one invocation, return the parsed response body. */
export async function invokeOnce(f: Fixture, handler: string, event: unknown = { a: 1 }): Promise<unknown> {
  f.start(handler);
  f.api.enqueue({ id: 'req-1', body: JSON.stringify(event) });
  return (await f.api.response('req-1')).json;
}

/** Start `handler`, expect an init error; return its body once the process has exited. */
export async function expectInitError(f: Fixture, handler: string): Promise<{ body: PyError; posted: Posted; stdout: string }> {
  const rt = f.start(handler);
  const posted = await f.api.initError();
  const { code } = await rt.exited;
  assert.equal(code, 1, `exit code; stderr: ${rt.stderr()}`);
  assert.equal(f.api.nextCount, 0, 'no GET /next after an init error');
  const body = posted.json as PyError;
  assert.equal(posted.headers['lambda-runtime-function-error-type'], body.errorType);
  assert.equal(body.requestId, '');
  assert.ok(Array.isArray(body.stackTrace));
  return { body, posted, stdout: rt.stdout() };
}

export const LOG_LINE = (level: string, id: string, message: string): RegExp =>
  new RegExp(`^\\[${level}\\]\\t\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\t${id}\\t${message}$`, 'm');

