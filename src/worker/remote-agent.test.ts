import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fakeSpec, FakeWorker } from '../../test/helpers/fake-worker.js';
import { testTrust } from '../../test/helpers/test-trust.js';
import { InternalClient } from '../shared/internal-client.js';
import { isStratusError, StratusError } from '../shared/errors.js';
import { silentLogger } from '../shared/log.js';
import type { EnvironmentSpec } from './environment-spec.js';
import type { Invocation, InvocationResult, ResponseSink } from './invocation.js';
import { RemoteWorkerAgent } from './remote-agent.js';
import { WorkerApiServer } from './worker-api.js';

const TRUST = testTrust();
const ENV = '00000000-0000-4000-8000-000000000001';

/** A worker whose invocations run a script the test sets. */
class ScriptedWorker extends FakeWorker {
  script: (inv: Invocation) => Promise<InvocationResult> = () => Promise.reject(new Error('no script'));
  createError: unknown;

  override async createEnvironment(envId: string, spec: EnvironmentSpec): Promise<void> {
    if (this.createError) throw this.createError;
    await super.createEnvironment(envId, spec);
  }

  snapshot: () => Promise<{ tar: Buffer; sha256: string }> = () => Promise.reject(new Error('no snapshot'));
  snapshotSpecs: EnvironmentSpec[] = [];
  snapshotSignals: (AbortSignal | undefined)[] = [];

  createSnapshot(spec: EnvironmentSpec, opts: { signal?: AbortSignal } = {}): Promise<{ tar: Buffer; sha256: string }> {
    this.snapshotSpecs.push(spec);
    this.snapshotSignals.push(opts.signal);
    return this.snapshot();
  }

  override invoke(_envId?: string, inv?: Invocation): Promise<InvocationResult> {
    return inv ? this.script(inv) : Promise.reject(new Error('no invocation'));
  }
}

/** A caller's sink that records what arrives, and when. */
function recordingSink(): ResponseSink & { chunks: string[]; contentType?: string; arrived: Promise<void> } {
  let arrived!: () => void;
  const sink = {
    chunks: [] as string[],
    contentType: undefined as string | undefined,
    arrived: new Promise<void>((resolve) => (arrived = resolve)),
    open(contentType: string) {
      sink.contentType = contentType;
      return new Writable({
        write(chunk: Buffer, _enc, done) {
          sink.chunks.push(chunk.toString());
          arrived();
          done();
        },
      });
    },
  };
  return sink;
}

const invocation = (responseSink?: ResponseSink): Invocation => ({
  requestId: 'r1', payload: Buffer.from('{}'), invokedFunctionArn: 'arn:f', traceId: 't', tailLog: false, responseSink,
});

describe('RemoteWorkerAgent over a real worker API', () => {
  const worker = new ScriptedWorker('w1');
  const server = new WorkerApiServer(worker, TRUST.authenticate, silentLogger(), TRUST.workerIdentity('w1'));
  let remote: RemoteWorkerAgent;
  let url = '';
  before(async () => {
    const address = await server.listen('127.0.0.1', 0);
    url = `https://127.0.0.1:${address.port}`;
    remote = new RemoteWorkerAgent('w1', url, new InternalClient(TRUST.controlPlane), worker.status(), silentLogger());
  });
  after(async () => {
    await remote.shutdown();
    await server.close();
  });

  it('relays a streamed response chunk by chunk: the caller has the first before the second is written', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    worker.script = async (inv) => {
      const out = inv.responseSink?.open('text/plain');
      assert.ok(out, 'the worker got a sink to stream into');
      out.write('first ');
      await gate;
      out.write('second');
      return { outcome: { kind: 'streamed', contentType: 'text/plain' }, reusable: true, durationMs: 12, logTail: 'dGFpbA==' };
    };
    const sink = recordingSink();
    const running = remote.invoke(ENV, invocation(sink));
    await sink.arrived;
    assert.deepEqual(sink.chunks, ['first '], 'the first chunk arrived while the function still runs');
    assert.equal(sink.contentType, 'text/plain');
    release();
    const result = await running;
    assert.equal(sink.chunks.join(''), 'first second');
    assert.deepEqual(result, { outcome: { kind: 'streamed', contentType: 'text/plain' }, reusable: true, durationMs: 12, initDurationMs: undefined, logTail: 'dGFpbA==' });
  });

  it('a function error after streamed bytes comes back with its type and document', async () => {
    const doc = Buffer.from(JSON.stringify({ errorType: 'Boom', errorMessage: 'it broke half way ✓' }));
    worker.script = async (inv) => {
      inv.responseSink?.open('application/json').write('partial');
      return { outcome: { kind: 'function-error', errorType: 'Boom', payload: doc }, reusable: false, durationMs: 3, initDurationMs: 40 };
    };
    const sink = recordingSink();
    const result = await remote.invoke(ENV, invocation(sink));
    assert.deepEqual(sink.chunks, ['partial']);
    assert.deepEqual(result, { outcome: { kind: 'function-error', errorType: 'Boom', payload: doc }, reusable: false, durationMs: 3, initDurationMs: 40, logTail: undefined });
  });

  it("a streamed function error with a long document and a full log tail still arrives whole (they travel as trailers)", async () => {
    const doc = Buffer.from(JSON.stringify({ errorType: 'Boom', errorMessage: 'x'.repeat(16 * 1024) }));
    const logTail = Buffer.from('l'.repeat(4096)).toString('base64');
    worker.script = async (inv) => {
      inv.responseSink?.open('text/plain').write('partial');
      return { outcome: { kind: 'function-error', errorType: 'Boom', payload: doc }, reusable: true, durationMs: 3, logTail };
    };
    const result = await remote.invoke(ENV, invocation(recordingSink()));
    assert.equal(result.outcome.kind, 'function-error');
    assert.ok(result.outcome.kind === 'function-error' && result.outcome.payload.equals(doc));
    assert.equal(result.logTail, logTail);
  });

  it('a platform error after streamed bytes keeps its code and details', async () => {
    worker.script = async (inv) => {
      inv.responseSink?.open('text/plain').write('some');
      throw new StratusError('SandboxCreateFailed', 'the sandbox went away', { details: { Reason: 'gone' } });
    };
    const err = await remote.invoke(ENV, invocation(recordingSink())).catch((e: unknown) => e);
    assert.ok(isStratusError(err));
    assert.equal(err.code, 'SandboxCreateFailed');
    assert.equal(err.message, 'the sandbox went away');
    assert.deepEqual(err.details, { Reason: 'gone' });
  });

  it('a response the function did not stream is the reply itself, sink or not', async () => {
    worker.script = async () => ({ outcome: { kind: 'success', payload: Buffer.from('{"ok":1}') }, reusable: true, durationMs: 1 });
    const sink = recordingSink();
    const result = await remote.invoke(ENV, invocation(sink));
    assert.deepEqual(sink.chunks, []);
    assert.deepEqual(result.outcome, { kind: 'success', payload: Buffer.from('{"ok":1}') });
    assert.deepEqual((await remote.invoke(ENV, invocation())).outcome, { kind: 'success', payload: Buffer.from('{"ok":1}') });
  });

  it('a large streamed response arrives whole and in order through a slow sink', async () => {
    const blocks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, i));
    worker.script = async (inv) => {
      const out = inv.responseSink?.open('application/octet-stream');
      assert.ok(out);
      for (const block of blocks) if (!out.write(block)) await new Promise((resolve) => out.once('drain', resolve));
      return { outcome: { kind: 'streamed', contentType: 'application/octet-stream' }, reusable: true, durationMs: 1 };
    };
    const received: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _enc, done) {
        received.push(chunk);
        setTimeout(done, 1);
      },
    });
    await remote.invoke(ENV, invocation({ open: () => slow }));
    // As with a local worker, the caller ends its sink once the result is in; what was written drains first.
    await new Promise((resolve) => slow.end(resolve));
    assert.ok(Buffer.concat(received).equals(Buffer.concat(blocks)));
  });

  it('errors of the worker keep their code, message and details; anything else is Internal', async () => {
    worker.createError = new StratusError('InvalidZipFile', 'not a zip', { details: { Reason: 'zip' } });
    const err = await remote.createEnvironment(ENV, fakeSpec('f')).catch((e: unknown) => e);
    assert.ok(isStratusError(err));
    assert.deepEqual([err.code, err.message, err.details, err.blame, err.retryable], ['InvalidZipFile', 'not a zip', { Reason: 'zip' }, 'user', false]);
    worker.createError = new Error('disk on fire');
    await assert.rejects(remote.createEnvironment(ENV, fakeSpec('f')), (e) => isStratusError(e) && e.code === 'Internal' && e.message === 'disk on fire');
    worker.createError = undefined;
  });

  it('createSnapshot: the spec goes to the worker, its tar comes back whole; a tar that does not match the digest the worker names is refused', async () => {
    const tar = randomBytes(3 * 1024 * 1024 + 17);
    const sha256 = createHash('sha256').update(tar).digest('hex');
    worker.snapshot = async () => ({ tar, sha256 });
    const made = await remote.createSnapshot(fakeSpec('snap'));
    assert.equal(made.sha256, sha256);
    assert.ok(made.tar.equals(tar));
    assert.equal(worker.snapshotSpecs.at(-1)?.functionName, 'snap');
    worker.snapshot = async () => ({ tar, sha256: 'f'.repeat(64) });
    await assert.rejects(remote.createSnapshot(fakeSpec('snap')), (e) => isStratusError(e) && e.code === 'SnapshotFailed' && /damaged/.test(e.message));
    worker.snapshot = () => Promise.reject(new StratusError('SnapshotFailed', 'init threw', { details: { kind: 'init' } }));
    await assert.rejects(remote.createSnapshot(fakeSpec('snap')), (e) => isStratusError(e) && e.code === 'SnapshotFailed' && e.details.kind === 'init');
  });

  it('createSnapshot: a worker that never answers is given up when the signal aborts, with its reason; the worker\'s own snapshot is aborted', { timeout: 30_000 }, async () => {
    let reached!: () => void;
    const asked = new Promise<void>((resolve) => (reached = resolve));
    let answer!: (err: Error) => void;
    // Accepted, then silence: as a worker whose host vanished without a reset.
    worker.snapshot = () => new Promise((_, reject) => {
      answer = reject;
      reached();
    });
    const controller = new AbortController();
    const sent = worker.snapshotSpecs.length;
    const made = remote.createSnapshot(fakeSpec('snap'), { signal: controller.signal });
    await asked;
    controller.abort(new StratusError('SnapshotFailed', 'past its deadline'));
    await assert.rejects(made, (e) => isStratusError(e) && e.message === 'past its deadline');
    // The worker hears of it: the request's close aborts its createSnapshot (which stops the boot or dump).
    const onWorker = worker.snapshotSignals.at(-1);
    assert.ok(onWorker, 'the worker API passes a signal');
    if (!onWorker.aborted) await new Promise((resolve) => onWorker.addEventListener('abort', resolve, { once: true }));
    assert.ok(isStratusError(onWorker.reason) && /gave up on the snapshot/.test(onWorker.reason.message));
    await assert.rejects(remote.createSnapshot(fakeSpec('snap'), { signal: controller.signal }), (e) => isStratusError(e) && e.message === 'past its deadline', 'an aborted signal sends nothing');
    answer(new Error('too late'));
    assert.equal(worker.snapshotSpecs.length, sent + 1, 'only the first went to the worker');
  });

  it('a worker that cannot be reached is WorkerUnavailable', async () => {
    const gone = new RemoteWorkerAgent('w9', 'https://127.0.0.1:1', new InternalClient(TRUST.controlPlane), worker.status(), silentLogger());
    await assert.rejects(gone.invoke(ENV, invocation()), (e) => isStratusError(e) && e.code === 'WorkerUnavailable' && e.retryable);
    await gone.shutdown();
  });

  it('a wrong credential is refused', async () => {
    const intruder = new RemoteWorkerAgent('w1', url, new InternalClient({ authorization: 'Bearer wrong-credential-000000000', ca: TRUST.ca.certPem }), worker.status(), silentLogger());
    await assert.rejects(intruder.environments(), (e) => isStratusError(e) && e.code === 'Forbidden');
    await intruder.shutdown();
  });
});
