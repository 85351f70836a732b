import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { environmentSpec } from '../../src/assignment/index.js';
import type { EnvironmentSpec } from '../../src/worker/index.js';
import { fakeFunction, type FakeProgram } from './fake-worker.js';

/**
 * The function of the WorkerAgent contract (test/contract/worker-agent.contract.ts), twice: as
 * Node.js code for a real worker's sandbox, and as a FakeProgram for the fake worker. The event
 * says what an invocation does:
 *   { do: 'echo', value }            returns { echo: value, requestId }
 *   { do: 'throw', message }         throws a RangeError
 *   { do: 'exit', code }             the runtime exits mid-invocation
 *   { do: 'exit-later', code, ms }   returns, then the runtime exits `ms` later (the environment dies idle)
 *   { do: 'sleep', ms }              returns after `ms` (past its timeout, if longer)
 * The `stream` handler (awslambda.streamifyResponse) writes 'first;', waits until the file
 * flags/<event.flag> exists in its code directory (or its deadline is near), then writes 'second'
 * (or 'no-flag') and ends: the caller raises the flag once it has the first chunk.
 */
export const AGENT_FUNCTION_CODE = `import { existsSync } from 'node:fs';
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
export const handler = async (event, context) => {
  switch (event.do) {
    case 'echo': return { echo: event.value, requestId: context.awsRequestId };
    case 'throw': throw new RangeError(event.message);
    case 'exit': process.exit(event.code);
    case 'exit-later': setTimeout(() => process.exit(event.code), event.ms); return { exiting: true };
    case 'sleep': await pause(event.ms); return { slept: event.ms };
    default: throw new Error('unknown action ' + event.do);
  }
};
export const stream = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType('text/plain');
  responseStream.write('first;');
  const flag = '/var/task/flags/' + event.flag;
  while (!existsSync(flag) && context.getRemainingTimeInMillis() > 500) await pause(20);
  responseStream.write(existsSync(flag) ? 'second' : 'no-flag');
  responseStream.end();
});
`;

/** The same function for the fake worker; `codeDir` stands for /var/task (its flags/ directory). */
export function agentFunctionProgram(codeDir: string): FakeProgram {
  return async (payload, runtime, spec) => {
    const event = JSON.parse(payload.toString() || '{}') as { do?: string; value?: unknown; message?: string; code?: number; ms?: number; flag?: string };
    if (spec.package.type === 'Zip' && spec.package.handler === 'index.stream') {
      const out = runtime.stream('text/plain');
      await out.write('first;');
      const flag = join(codeDir, 'flags', event.flag ?? '');
      while (!existsSync(flag) && runtime.deadlineMs - Date.now() > 500) await sleep(20);
      await out.write(existsSync(flag) ? 'second' : 'no-flag');
      return out.end();
    }
    switch (event.do) {
      case 'echo': return runtime.respond(JSON.stringify({ echo: event.value, requestId: runtime.requestId }));
      case 'throw': return runtime.fail('RangeError', event.message ?? '');
      case 'exit': return runtime.exit(event.code ?? 0);
      case 'exit-later':
        setTimeout(() => runtime.exit(event.code ?? 0), event.ms ?? 0);
        return runtime.respond(JSON.stringify({ exiting: true }));
      case 'sleep':
        await sleep(event.ms ?? 0);
        return runtime.respond(JSON.stringify({ slept: event.ms }));
      default: return runtime.fail('Error', `unknown action ${event.do}`);
    }
  };
}

/** What the contract varies about its function. */
export interface FunctionShape {
  /** 'respond' (index.handler, the default) or 'stream' (index.stream). */
  handler?: 'respond' | 'stream';
  timeoutSec?: number;
  /**
   * A function this worker cannot boot: tagged for gVisor on a worker without it, so creating
   * its environment fails with SandboxCreateFailed.
   */
  unbootable?: boolean;
}

/** The text of the SandboxCreateFailed an unbootable function gets (as LocalWorkerAgent words it). */
export const UNBOOTABLE_MESSAGE = 'this worker has no gVisor (runsc) driver';

/** The contract's function in `shape`, as assignment gives it to a worker agent. */
export function contractFunction(shape: FunctionShape = {}): EnvironmentSpec {
  const name = `contract-${shape.handler ?? 'respond'}`;
  return environmentSpec({
    ...fakeFunction(name),
    handler: shape.handler === 'stream' ? 'index.stream' : 'index.handler',
    timeoutSec: shape.timeoutSec ?? 3,
    code: { sha256: 'c'.repeat(64), size: AGENT_FUNCTION_CODE.length },
    ...(shape.unbootable ? { tags: { 'stratus:sandbox': 'gvisor' } } : {}),
  });
}

/** The fake's stand-in for "no gVisor here": what it refuses to boot, and why. */
export function fakeBootFailure(spec: EnvironmentSpec): string | undefined {
  return spec.sandboxDriver === 'gvisor' ? `Function ${spec.functionName} is tagged stratus:sandbox=gvisor, but ${UNBOOTABLE_MESSAGE}` : undefined;
}
