/**
 * Test support (control-plane side, never loaded by the runtime): a fake
 * Lambda Runtime API that queues invocations and records what the runtime
 * posts, and a helper that spawns the built runtime against it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BOOTSTRAP = fileURLToPath(new URL('../bootstrap.cjs', import.meta.url));
const PREFIX = '/2018-06-01/runtime';

export interface QueuedInvocation {
  id: string;
  /** Raw request body; JSON text. */
  body: string;
  headers?: Record<string, string>;
}

export interface Posted {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: unknown;
  at: number;
  /** Trailers of a streamed response (Lambda-Runtime-Function-Error-Type / -Body). */
  trailers: NodeJS.Dict<string>;
  /** Each body chunk as it arrived, with its arrival time. */
  chunks: { at: number; data: Buffer }[];
}

export class FakeRuntimeApi {
  readonly responses = new Map<string, Posted>();
  readonly errors = new Map<string, Posted>();
  readonly initErrors: Posted[] = [];
  /** Host headers seen, and how many GET /next requests arrived. */
  readonly hosts: string[] = [];
  nextCount = 0;
  private readonly queue: QueuedInvocation[] = [];
  private readonly waiting: http.ServerResponse[] = [];
  private readonly changes = new EventEmitter();
  private readonly server = http.createServer((req, res) => this.handle(req, res));

  /** Listen on a Unix socket (`socketPath`) or, without one, on 127.0.0.1:<random>. */
  async listen(socketPath?: string): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      if (socketPath) this.server.listen(socketPath, resolve);
      else this.server.listen(0, '127.0.0.1', resolve);
    });
    if (socketPath) return socketPath;
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  enqueue(inv: QueuedInvocation): void {
    const res = this.waiting.shift();
    if (res) this.send(res, inv);
    else this.queue.push(inv);
  }

  /** Resolve with probe()'s first defined value, re-checked after every request. */
  waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 8000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const v = probe();
        if (v === undefined) return;
        clearTimeout(timer);
        this.changes.off('change', check);
        resolve(v);
      };
      const timer = setTimeout(() => {
        this.changes.off('change', check);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      this.changes.on('change', check);
      check();
    });
  }

  response(id: string): Promise<Posted> {
    return this.waitFor(() => this.responses.get(id), `response for ${id}`);
  }

  error(id: string): Promise<Posted> {
    return this.waitFor(() => this.errors.get(id), `error for ${id}`);
  }

  initError(): Promise<Posted> {
    return this.waitFor(() => this.initErrors[0], 'init error');
  }

  async close(): Promise<void> {
    for (const res of this.waiting.splice(0)) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private send(res: http.ServerResponse, inv: QueuedInvocation): void {
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Aws-Request-Id': inv.id,
      'Lambda-Runtime-Deadline-Ms': String(Date.now() + 30_000),
      'Lambda-Runtime-Invoked-Function-Arn': 'arn:aws:lambda:us-east-1:000000000000:function:fn',
      'Lambda-Runtime-Trace-Id': `Root=1-00000000-${inv.id};Sampled=0`,
      ...inv.headers,
    });
    res.end(inv.body);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.hosts.push(req.headers.host ?? '');
    const chunks: Buffer[] = [];
    const timed: Posted['chunks'] = [];
    req.on('data', (c: Buffer) => {
      chunks.push(c);
      timed.push({ at: Date.now(), data: c });
    });
    req.on('end', () => {
      const url = req.url ?? '';
      if (req.method === 'GET' && url === `${PREFIX}/invocation/next`) {
        this.nextCount++;
        const inv = this.queue.shift();
        if (inv) this.send(res, inv);
        else this.waiting.push(res);
        this.changes.emit('change');
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const posted: Posted = { headers: req.headers, body, json, at: Date.now(), trailers: req.trailers, chunks: timed };
      const m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
      if (req.method === 'POST' && m?.[1] && m[2]) {
        const id = decodeURIComponent(m[1]);
        (m[2] === 'response' ? this.responses : this.errors).set(id, posted);
      } else if (req.method === 'POST' && url === `${PREFIX}/init/error`) {
        this.initErrors.push(posted);
      } else {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(202, { 'Content-Type': 'application/json' }).end('{"status":"OK"}');
      this.changes.emit('change');
    });
  }
}

export interface RuntimeProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once stdout contains `text`. */
  waitForStdout(text: string | RegExp, timeoutMs?: number): Promise<string>;
}

/** Spawns a runtime client (by default this Node.js one) with `env`, capturing its output. */
export function startRuntime(env: Record<string, string>, command: string[] = [process.execPath, BOOTSTRAP]): RuntimeProcess {
  const [program = process.execPath, ...args] = command;
  const child = spawn(program, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const outEvents = new EventEmitter();
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    outEvents.emit('data');
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitForStdout = (text: string | RegExp, timeoutMs = 8000): Promise<string> =>
    new Promise((resolve, reject) => {
      const has = (): boolean => (typeof text === 'string' ? out.includes(text) : text.test(out));
      const check = (): void => {
        if (!has()) return;
        clearTimeout(timer);
        outEvents.off('data', check);
        resolve(out);
      };
      const timer = setTimeout(() => {
        outEvents.off('data', check);
        reject(new Error(`timed out waiting for stdout ${String(text)}; got:\n${out}\nstderr:\n${err}`));
      }, timeoutMs);
      outEvents.on('data', check);
      check();
    });
  return { child, stdout: () => out, stderr: () => err, exited, waitForStdout };
}

export interface Fixture {
  dir: string;
  taskRoot: string;
  api: FakeRuntimeApi;
  /** Environment for a runtime talking to `api`, with `_HANDLER`. */
  env(handler: string, extra?: Record<string, string>): Record<string, string>;
  start(handler: string, extra?: Record<string, string>): RuntimeProcess;
  cleanup(): Promise<void>;
}

/**
 * Temp dir with `files` written under task/, and a fake API on a Unix socket
 * (or TCP when `tcp`). cleanup() kills started runtimes by PID, closes the
 * server and removes the dir.
 */
export async function createFixture(files: Record<string, string>, opts: { tcp?: boolean } = {}): Promise<Fixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'stratus-rt-node-'));
  const taskRoot = path.join(dir, 'task');
  for (const [name, content] of Object.entries({ '.keep': '', ...files })) {
    const file = path.join(taskRoot, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  const api = new FakeRuntimeApi();
  const address = await api.listen(opts.tcp ? undefined : path.join(dir, 'rapid.sock'));
  const children: ChildProcess[] = [];
  const env = (handler: string, extra: Record<string, string> = {}): Record<string, string> => ({
    ...(opts.tcp
      ? { AWS_LAMBDA_RUNTIME_API: address }
      : { STRATUS_RUNTIME_API_SOCKET: address, AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001' }),
    _HANDLER: handler,
    LAMBDA_TASK_ROOT: taskRoot,
    AWS_LAMBDA_FUNCTION_NAME: 'fn',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/fn',
    AWS_LAMBDA_LOG_STREAM_NAME: '2024/01/01/[$LATEST]abc',
    ...extra,
  });
  return {
    dir,
    taskRoot,
    api,
    env,
    start(handler, extra) {
      const rt = startRuntime(env(handler, extra));
      children.push(rt.child);
      return rt;
    },
    async cleanup() {
      for (const child of children) {
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
          const gone = new Promise((resolve) => child.once('exit', resolve));
          process.kill(child.pid, 'SIGKILL');
          await gone;
        }
      }
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
