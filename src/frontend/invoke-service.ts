import type { AssignmentService } from '../assignment/index.js';
import type { FunctionRegistry, FunctionVersion } from '../registry/index.js';
import { StratusError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { InvocationResult, ResponseSink } from '../worker/index.js';
import type { ConcurrencyLimiter } from './concurrency-limiter.js';

export interface InvokeRequest {
  functionName: string;
  qualifier: string | undefined;
  requestId: string;
  payload: Buffer;
  clientContext?: string;
  tailLog: boolean;
  /** For callers that pass a streamed response on as it comes (see worker's ResponseSink). */
  responseSink?: ResponseSink;
}

export interface InvokeOutcome {
  version: FunctionVersion;
  result: InvocationResult;
}

/**
 * The invoke path without HTTP: resolve the version, get an environment from assignment, run
 * the invocation on its worker, give the environment back.
 */
export class InvokeService {
  constructor(
    private readonly registry: FunctionRegistry,
    private readonly assignment: AssignmentService,
    private readonly limiter: ConcurrencyLimiter,
    private readonly log: Logger,
  ) {}

  resolve(functionName: string, qualifier: string | undefined): FunctionVersion {
    return this.registry.resolve(functionName, qualifier);
  }

  async invoke(req: InvokeRequest, version = this.resolve(req.functionName, req.qualifier)): Promise<InvokeOutcome> {
    if (version.snapshot?.status === 'pending') {
      // A SnapStart version is invocable once its snapshot is made (Lambda: State Pending).
      throw new StratusError('ResourceConflict', 'The operation cannot be performed at this time. The function is currently in the following state: Pending');
    }
    const leave = this.limiter.enter(version.name);
    try {
      return await this.run(req, version);
    } finally {
      leave();
    }
  }

  private async run(req: InvokeRequest, version: FunctionVersion): Promise<InvokeOutcome> {
    const lease = await this.assignment.acquire(version);
    let result: InvocationResult;
    try {
      result = await lease.worker.invoke(lease.envId, {
        requestId: req.requestId,
        payload: req.payload,
        invokedFunctionArn: req.qualifier ? `${version.functionArn}:${req.qualifier}` : version.functionArn,
        traceId: traceId(req.requestId),
        clientContext: req.clientContext,
        tailLog: req.tailLog,
        responseSink: req.responseSink,
      });
    } catch (cause) {
      this.assignment.release(lease, false);
      this.log.error({ err: cause, requestId: req.requestId, function: version.name }, 'invocation failed in the platform');
      throw new StratusError('WorkerUnavailable', 'The function could not be run: its execution environment failed.', { cause });
    }
    this.assignment.release(lease, result.reusable);
    return { version, result };
  }
}

function traceId(requestId: string): string {
  const hex = requestId.replaceAll('-', '');
  return `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${hex.slice(0, 24)};Parent=${hex.slice(16, 32)};Sampled=0`;
}
