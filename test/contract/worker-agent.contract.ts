import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isStratusError, type ErrorCode } from '../../src/shared/errors.js';
import type { EnvironmentOptions, Invocation, InvocationResult, ResponseSink, WorkerAgent } from '../../src/worker/index.js';
import { contractFunction, UNBOOTABLE_MESSAGE, type FunctionShape } from '../helpers/agent-function.js';

/** A worker agent as one caller sees it: a leadership of some epoch, or an unfenced caller. */
export interface AgentHandle {
  agent: WorkerAgent;
  /** Creates an environment of the contract's function (test/helpers/agent-function.ts) in `shape`. */
  createEnvironment(envId: string, shape?: FunctionShape, opts?: EnvironmentOptions): Promise<void>;
}

export interface WorkerAgentUnderTest extends AgentHandle {
  /** The agent as an assignment leadership of `epoch` calls it: every request carries that epoch. */
  actingFor(epoch: number): AgentHandle;
  /** Creates flags/<name> in the function's code directory (the streaming handler waits for it). */
  raiseFlag(name: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** The one place the contract hands a worker agent a function (an EnvironmentSpec). */
export function agentHandle(agent: WorkerAgent): AgentHandle {
  return { agent, createEnvironment: (envId, shape, opts) => agent.createEnvironment(envId, contractFunction(shape), opts) };
}

/**
 * What every WorkerAgent does alike (LocalWorkerAgent, RemoteWorkerAgent over the worker API,
 * the test fake), so that a transport cannot quietly change behaviour.
 */
export function runWorkerAgentContract(name: string, newAgent: () => Promise<WorkerAgentUnderTest>): void {
  describe(`WorkerAgent contract: ${name}`, () => {
    let under: WorkerAgentUnderTest;
    let agent: WorkerAgent;
    const lost: string[] = [];
    before(async () => {
      under = await newAgent();
      agent = under.agent;
      agent.onEnvironmentLost((envId) => lost.push(envId));
    });
    after(() => under?.cleanup());

    const created = async (shape?: FunctionShape, opts?: EnvironmentOptions) => {
      const envId = randomUUID();
      await under.createEnvironment(envId, shape, opts);
      return envId;
    };
    const listed = async (envId: string) => (await agent.environments()).find((e) => e.envId === envId);

    it('creates an environment and invokes it: payload in, result out, again and again; Init Duration on the cold invocation only', async () => {
      const envId = await created();
      const first = await agent.invoke(envId, invocation({ do: 'echo', value: { n: 1 } }));
      const { requestId } = invocation({});
      const second = await agent.invoke(envId, { ...invocation({ do: 'echo', value: 'two' }), requestId });
      assert.deepEqual(json(success(first)).echo, { n: 1 });
      assert.deepEqual(json(success(second)), { echo: 'two', requestId });
      assert.equal(first.reusable, true);
      assert.equal(second.reusable, true);
      assert.equal(typeof first.initDurationMs, 'number', 'the cold invocation reports its Init Duration');
      assert.ok((first.initDurationMs ?? -1) >= 0);
      assert.equal(second.initDurationMs, undefined, 'a warm one does not');
      for (const r of [first, second]) assert.ok(Number.isFinite(r.durationMs) && r.durationMs >= 0, `durationMs ${r.durationMs}`);
      assert.deepEqual(await listed(envId), { envId, busy: false });
    });

    it('a provisioned environment reports no Init Duration', async () => {
      const envId = await created({}, { initType: 'provisioned-concurrency' });
      const result = await agent.invoke(envId, invocation({ do: 'echo', value: 1 }));
      assert.deepEqual(json(success(result)).echo, 1);
      assert.equal(result.initDurationMs, undefined);
    });

    it('returns the log tail of an invocation when asked (base64, naming the request), and none otherwise', async () => {
      const envId = await created();
      const asked = invocation({ do: 'echo', value: 1 }, { tailLog: true });
      const tail = Buffer.from((await agent.invoke(envId, asked)).logTail ?? '', 'base64').toString();
      assert.match(tail, new RegExp(`START RequestId: ${asked.requestId}`));
      assert.match(tail, new RegExp(`REPORT RequestId: ${asked.requestId}`));
      assert.equal((await agent.invoke(envId, invocation({ do: 'echo', value: 2 }))).logTail, undefined);
    });

    it('a function error is data: its type and Lambda\'s error document; the environment lives on', async () => {
      const envId = await created();
      const result = await agent.invoke(envId, invocation({ do: 'throw', message: 'bad input' }));
      assert.equal(result.outcome.kind, 'function-error');
      assert.ok(result.outcome.kind === 'function-error');
      assert.equal(result.outcome.errorType, 'RangeError');
      const doc = json(result.outcome.payload);
      assert.deepEqual([doc.errorType, doc.errorMessage, Array.isArray(doc.trace)], ['RangeError', 'bad input', true]);
      assert.equal(result.reusable, true);
      assert.deepEqual(json(success(await agent.invoke(envId, invocation({ do: 'echo', value: 'after' })))).echo, 'after');
    });

    it('a runtime that exits mid-invocation: Runtime.ExitError, not reusable, reported lost; a later invocation gets the same', async () => {
      const envId = await created();
      const inv = invocation({ do: 'exit', code: 3 });
      const result = await agent.invoke(envId, inv);
      assertFunctionError(result, 'Runtime.ExitError', `RequestId: ${inv.requestId} Error: Runtime exited with error: exit status 3`);
      assert.equal(result.reusable, false);
      await until(() => lost.includes(envId), 'the environment is reported lost');
      assert.equal(await listed(envId), undefined, 'a dead environment is not listed');
      const later = await agent.invoke(envId, invocation({ do: 'echo', value: 1 }));
      assertFunctionError(later, 'Runtime.ExitError', /Runtime exited with error: exit status 3/);
      assert.equal(later.reusable, false);
    });

    it('a function that outlives its timeout: Sandbox.Timedout, not reusable', async () => {
      const envId = await created({ timeoutSec: 1 });
      const inv = invocation({ do: 'sleep', ms: 5000 });
      const result = await agent.invoke(envId, inv);
      assertFunctionError(result, 'Sandbox.Timedout', `RequestId: ${inv.requestId} Error: Task timed out after 1.00 seconds`);
      assert.equal(result.reusable, false);
      await until(() => lost.includes(envId), 'the environment is reported lost');
    });

    it('an environment whose runtime exits while idle is reported lost, once, and no longer listed', async () => {
      const envId = await created();
      const result = await agent.invoke(envId, invocation({ do: 'exit-later', code: 1, ms: 200 }));
      assert.deepEqual(json(success(result)), { exiting: true });
      assert.equal(result.reusable, true, 'it was alive when it answered');
      await until(() => lost.includes(envId), 'the environment is reported lost');
      assert.equal(await listed(envId), undefined);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(lost.filter((id) => id === envId).length, 1, 'reported once');
    });

    it('destroyEnvironment ends it (not reported lost); a later invoke fails as one of an unknown environment does; destroying again is harmless', async () => {
      const envId = await created();
      await agent.invoke(envId, invocation({ do: 'echo', value: 1 }));
      await agent.destroyEnvironment(envId);
      assert.equal(await listed(envId), undefined);
      await assert.rejects(agent.invoke(envId, invocation({ do: 'echo', value: 2 })), code('Internal'));
      await assert.rejects(agent.invoke(randomUUID(), invocation({ do: 'echo', value: 3 })), code('Internal'));
      await agent.destroyEnvironment(envId);
      await agent.destroyEnvironment(randomUUID());
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(!lost.includes(envId), 'a destroyed environment is not reported lost');
    });

    it('an environment runs only invocations of its own function and account: another account\'s (or function\'s) is refused with Internal, does not run, and the environment serves its own next', async () => {
      const envId = await created();
      await agent.invoke(envId, invocation({ do: 'echo', value: 'mine' }));
      for (const arn of [arnOf('contract-respond', '210987654321'), arnOf('contract-respond', '210987654321') + ':$LATEST', arnOf('someone-else'), 'arn:f']) {
        await assert.rejects(agent.invoke(envId, invocation({ do: 'exit', code: 3 }, { invokedFunctionArn: arn })), (err: unknown) => {
          code('Internal')(err);
          assert.ok(isStratusError(err) && err.details.kind === 'other-function', `refused as another function's: ${String(err)}`);
          return true;
        });
      }
      const own = await agent.invoke(envId, invocation({ do: 'echo', value: 'still mine' }, { invokedFunctionArn: `${arnOf('contract-respond')}:$LATEST` }));
      assert.deepEqual(json(success(own)).echo, 'still mine', 'the refused invocations never ran (one would have ended the runtime)');
      assert.ok(!lost.includes(envId));
    });

    it('environments() lists the live environments, busy while an invocation runs', async () => {
      const envId = await created();
      await agent.invoke(envId, invocation({ do: 'echo', value: 0 }));
      const running = agent.invoke(envId, invocation({ do: 'sleep', ms: 800 }));
      await untilAsync(async () => (await listed(envId))?.busy === true, 'listed busy while it runs');
      assert.deepEqual(json(success(await running)), { slept: 800 });
      assert.deepEqual(await listed(envId), { envId, busy: false });
    });

    it('fencing: after environments(N), an invocation of an older leadership is refused with Fenced and does not run; N and later pass', async () => {
      const envId = await created();
      await agent.environments(10);
      await assert.rejects(agent.invoke(envId, invocation({ do: 'echo', value: 'old' }, { epoch: 9 })), code('Fenced'));
      assert.deepEqual(await listed(envId), { envId, busy: false });
      const now = await agent.invoke(envId, invocation({ do: 'echo', value: 'cold' }, { epoch: 10 }));
      assert.equal(typeof now.initDurationMs, 'number', 'the refused invocation did not run: this one is the cold one');
      assert.deepEqual(json(success(await agent.invoke(envId, invocation({ do: 'echo', value: 'new' }, { epoch: 11 })))).echo, 'new');
    });

    it('fencing: after environments(N), creating or destroying for an older leadership is refused with Fenced', async () => {
      await agent.environments(20);
      const old = under.actingFor(19);
      await assert.rejects(old.createEnvironment(randomUUID()), code('Fenced'));
      const envId = randomUUID();
      await under.actingFor(20).createEnvironment(envId);
      await assert.rejects(old.agent.destroyEnvironment(envId), code('Fenced'));
      assert.deepEqual(await listed(envId), { envId, busy: false }, 'the refused destroy did nothing');
      await under.actingFor(21).agent.destroyEnvironment(envId);
      assert.equal(await listed(envId), undefined);
    });

    it('fencing: a survey by an older leadership is refused too (it cannot win the worker back)', async () => {
      await agent.environments(30);
      await assert.rejects(agent.environments(29), code('Fenced'));
      await assert.rejects(under.actingFor(29).createEnvironment(randomUUID()), code('Fenced'));
    });

    it('a create that fails rejects with SandboxCreateFailed and its message, and leaves nothing behind', async () => {
      const envId = randomUUID();
      await assert.rejects(under.createEnvironment(envId, { unbootable: true }), (err) => {
        assert.ok(isStratusError(err), String(err));
        assert.equal(err.code, 'SandboxCreateFailed');
        assert.ok(err.message.includes(UNBOOTABLE_MESSAGE), err.message);
        return true;
      });
      assert.equal(await listed(envId), undefined);
    });

    it('a streamed response reaches the sink chunk by chunk: the first chunk arrives before the function writes the second', async () => {
      const envId = await created({ handler: 'stream', timeoutSec: 4 });
      const flag = randomUUID();
      const chunks: string[] = [];
      let contentType: string | undefined;
      const sink: ResponseSink = {
        open(type) {
          contentType = type;
          return new Writable({
            write(chunk: Buffer, _encoding, done) {
              chunks.push(chunk.toString());
              // The function writes its second chunk only once this flag exists.
              if (chunks.length === 1) under.raiseFlag(flag).then(() => done(), done);
              else done();
            },
          });
        },
      };
      const result = await agent.invoke(envId, invocation({ flag }, { responseSink: sink, invokedFunctionArn: arnOf('contract-stream') }));
      assert.deepEqual(result.outcome, { kind: 'streamed', contentType: 'text/plain' });
      assert.equal(contentType, 'text/plain');
      assert.equal(chunks[0], 'first;', `the first chunk came alone: ${JSON.stringify(chunks)}`);
      assert.equal(chunks.join(''), 'first;second', 'the function saw the flag raised on the first chunk');
      assert.equal(result.reusable, true);
    });

    it('a streamed response to a caller without a sink comes back whole, with its content type', async () => {
      const envId = await created({ handler: 'stream', timeoutSec: 4 });
      const flag = randomUUID();
      await under.raiseFlag(flag);
      const result = await agent.invoke(envId, invocation({ flag }, { invokedFunctionArn: arnOf('contract-stream') }));
      assert.equal(result.outcome.kind, 'success');
      assert.ok(result.outcome.kind === 'success');
      assert.equal(result.outcome.payload.toString(), 'first;second');
      assert.equal(result.outcome.contentType, 'text/plain');
    });
  });
}

/** The ARN the contract's function is invoked as (`contractFunction`: account 000000000000). */
const arnOf = (functionName: string, account = '000000000000') => `arn:aws:lambda:us-east-1:${account}:function:${functionName}`;

function invocation(event: Record<string, unknown>, extra: Partial<Invocation> = {}): Invocation {
  return {
    requestId: randomUUID(), payload: Buffer.from(JSON.stringify(event)), invokedFunctionArn: arnOf('contract-respond'),
    traceId: 'Root=1-00000000-000000000000000000000000;Sampled=0', tailLog: false, ...extra,
  };
}

function success(result: InvocationResult): Buffer {
  assert.equal(result.outcome.kind, 'success', result.outcome.kind === 'function-error' ? result.outcome.payload.toString() : undefined);
  return result.outcome.kind === 'success' ? result.outcome.payload : Buffer.alloc(0);
}

function json(payload: Buffer): Record<string, unknown> {
  return JSON.parse(payload.toString()) as Record<string, unknown>;
}

function assertFunctionError(result: InvocationResult, errorType: string, message: string | RegExp): void {
  assert.equal(result.outcome.kind, 'function-error');
  assert.ok(result.outcome.kind === 'function-error');
  assert.equal(result.outcome.errorType, errorType);
  const doc = json(result.outcome.payload);
  assert.equal(doc.errorType, errorType);
  if (typeof message === 'string') assert.equal(doc.errorMessage, message);
  else assert.match(String(doc.errorMessage), message);
}

/** An assert.rejects check: a StratusError of `expected` code. */
function code(expected: ErrorCode): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isStratusError(err), `a StratusError, not ${String(err)}`);
    assert.equal(err.code, expected, err.message);
    return true;
  };
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  return untilAsync(async () => predicate(), what);
}

async function untilAsync(predicate: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await predicate())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
