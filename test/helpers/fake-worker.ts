import type { FunctionVersion } from '../../src/registry/index.js';
import type { EnvironmentReport, EnvironmentSpec, InvocationResult, WorkerAgent, WorkerStatus } from '../../src/worker/index.js';

/** A worker that only records what it is asked to do (unit tests of assignment). */
export class FakeWorker implements WorkerAgent {
  readonly created: string[] = [];
  /** What each environment was created from. */
  readonly specs = new Map<string, EnvironmentSpec>();
  readonly destroyed: string[] = [];
  /** Environments it reports as busy. */
  readonly busy = new Set<string>();
  /** The highest epoch it was fenced with. */
  epoch = 0;
  failCreate = false;

  constructor(readonly id: string, private readonly memoryMb = 1024) {}

  async createEnvironment(envId: string, spec: EnvironmentSpec): Promise<void> {
    if (this.failCreate) throw new Error('boot failed');
    this.created.push(envId);
    this.specs.set(envId, spec);
  }

  async invoke(): Promise<InvocationResult> {
    throw new Error('not used');
  }

  async destroyEnvironment(envId: string): Promise<void> {
    this.destroyed.push(envId);
  }

  status(): WorkerStatus {
    return { id: this.id, memoryMb: this.memoryMb, memoryReservedMb: 0, environments: 0, cachedCode: [] };
  }

  onEnvironmentLost(): void {}

  async environments(epoch?: number): Promise<EnvironmentReport[]> {
    this.epoch = Math.max(this.epoch, epoch ?? 0);
    return this.created.filter((id) => !this.destroyed.includes(id)).map((envId) => ({ envId, busy: this.busy.has(envId) }));
  }

  async shutdown(): Promise<void> {}
}

/** A function version for unit tests. */
export function fakeFunction(name: string, revisionId = 'r1', memoryMb = 128): FunctionVersion {
  return {
    name, runtime: 'nodejs20.x', role: 'arn:aws:iam::000000000000:role/r', handler: 'index.handler', description: '',
    timeoutSec: 3, memoryMb, ephemeralStorageMb: 512, environment: {}, code: { sha256: 'a'.repeat(64), size: 1 },
    lastModifiedMs: 0, revisionId, version: '$LATEST', functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
  };
}

/** What a worker is given for an environment of `fakeFunction(name)`. */
export function fakeSpec(name: string, memoryMb = 128): EnvironmentSpec {
  return {
    functionName: name, version: '$LATEST', memoryMb, timeoutSec: 3, ephemeralStorageMb: 512, environment: {},
    package: { type: 'Zip', code: { sha256: 'a'.repeat(64), size: 1 }, runtime: 'nodejs20.x', handler: 'index.handler' },
    sandboxDriver: 'default', network: 'none',
  };
}
