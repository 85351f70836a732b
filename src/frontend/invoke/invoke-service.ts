import type { Assigner, Lease } from '../../assignment/index.js';
import type { RunOutcome, RunRequest } from '../../async/index.js';
import type { FunctionRegistries, FunctionVersion } from '../../registry/index.js';
import type { Clock } from '../../shared/clock.js';
import { isStratusError, StratusError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { FunctionLabels, Metrics } from '../../shared/metrics.js';
import {
  ATTR, ATTR_CLOUD_ACCOUNT_ID, ATTR_CLOUD_RESOURCE_ID, ATTR_FAAS_COLDSTART, ATTR_FAAS_INVOCATION_ID, ATTR_FAAS_NAME, ATTR_FAAS_VERSION, NO_TRACER, SpanKind,
  traceIdOfXRay, traceparentOfXRay, xrayField, type TraceSpan, type Tracer,
} from '../../shared/tracing.js';
import type { InvocationResult, ResponseSink } from '../../worker/index.js';

/** An invocation to run (the one an Event invoke's consumer asks for, plus a sink for streaming). */
export interface InvokeRequest extends RunRequest {
  /** For callers that pass a streamed response on as it comes (see worker's ResponseSink). */
  responseSink?: ResponseSink;
  /** How it was invoked, for its trace (default RequestResponse). */
  invocationType?: 'RequestResponse' | 'Event' | 'ResponseStream' | 'FunctionUrl';
}

/** What ran and how it ended. */
export type InvokeOutcome = RunOutcome;

/**
 * The invoke path without HTTP: resolve the version, get an environment from assignment, run
 * the invocation on its worker, give the environment back.
 */
export class InvokeService {
  constructor(
    private readonly registries: FunctionRegistries,
    private readonly assignment: Assigner,
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly metrics?: Metrics,
    private readonly tracer: Tracer = NO_TRACER,
  ) {}

  /** The version an invoke of the account's function runs (an alias picks one by its weights). */
  resolve(req: Pick<RunRequest, 'accountId' | 'functionName' | 'qualifier'>): FunctionVersion {
    return this.registries.for(req.accountId).resolve(req.functionName, req.qualifier);
  }

  async invoke(req: InvokeRequest, version = this.resolve(req)): Promise<InvokeOutcome> {
    const invokedFunctionArn = req.qualifier ? `${version.functionArn}:${req.qualifier}` : version.functionArn;
    const xray = traceId(req.requestId, this.clock.now(), req.traceHeader);
    const span = this.tracer.enabled ? this.startSpan(req, version, invokedFunctionArn, xray) : undefined;
    try {
      if (version.snapshot?.status === 'pending') {
        // A SnapStart version is invocable once its snapshot is made (Lambda: State Pending).
        throw new StratusError('ResourceConflict', 'The operation cannot be performed at this time. The function is currently in the following state: Pending');
      }
      const outcome = await this.run(req, version, { invokedFunctionArn, traceId: xray, span });
      if (outcome.result.outcome.kind === 'function-error') span?.fail('function error', 'FunctionError');
      return outcome;
    } catch (err) {
      span?.fail(err);
      throw err;
    } finally {
      span?.end();
    }
  }

  /**
   * The invoke's span, the root of its trace in Stratus: its trace id is the X-Ray trace's Root,
   * under the caller's segment if the caller's header names one. Nothing else of the header is read.
   */
  private startSpan(req: InvokeRequest, version: FunctionVersion, invokedFunctionArn: string, xray: string): TraceSpan {
    const type = req.invocationType ?? 'RequestResponse';
    return this.tracer.start('frontend.invoke', req.traceHeader === undefined ? undefined : traceparentOfXRay(req.traceHeader), {
      kind: type === 'Event' ? SpanKind.CONSUMER : SpanKind.SERVER,
      traceId: traceIdOfXRay(xray),
      attributes: {
        [ATTR_FAAS_INVOCATION_ID]: req.requestId, [ATTR_CLOUD_RESOURCE_ID]: invokedFunctionArn, [ATTR_CLOUD_ACCOUNT_ID]: version.accountId,
        [ATTR_FAAS_NAME]: version.name, [ATTR_FAAS_VERSION]: version.version, [ATTR.invocationType]: type,
      },
    });
  }

  /** An environment granted by a leadership that was just deposed is refused by its worker: once more. */
  private async run(req: InvokeRequest, version: FunctionVersion, how: { invokedFunctionArn: string; traceId: string; span?: TraceSpan }, attempt = 0): Promise<InvokeOutcome> {
    const labels = this.metrics && metricLabels(req, version);
    const trace = how.span?.traceparent;
    let lease: Lease;
    try {
      lease = await this.assignment.acquire(version, trace === undefined ? undefined : { trace });
    } catch (err) {
      if (labels && isStratusError(err) && err.code === 'TooManyRequests') this.metrics?.throttle(labels);
      throw err;
    }
    how.span?.set({ [ATTR_FAAS_COLDSTART]: lease.cold, [ATTR.environmentId]: lease.envId, [ATTR.workerId]: lease.worker.id });
    let result: InvocationResult;
    try {
      result = await lease.worker.invoke(lease.envId, {
        requestId: req.requestId,
        payload: req.payload,
        invokedFunctionArn: how.invokedFunctionArn,
        traceId: how.traceId,
        clientContext: req.clientContext,
        tailLog: req.tailLog,
        responseSink: req.responseSink,
        epoch: lease.epoch,
        ...(trace === undefined ? {} : { trace }),
      });
    } catch (cause) {
      if (isStratusError(cause) && cause.code === 'Fenced' && attempt === 0) return this.run(req, version, how, attempt + 1);
      this.assignment.release(lease, false);
      if (labels) this.metrics?.invocation(labels, true, undefined);
      this.log.error({ err: cause, requestId: req.requestId, function: version.name }, 'invocation failed in the platform');
      throw new StratusError('WorkerUnavailable', 'The function could not be run: its execution environment failed.', { cause });
    }
    this.assignment.release(lease, result.reusable);
    if (labels) this.metrics?.invocation(labels, result.outcome.kind === 'function-error', result.durationMs);
    return { version, result };
  }
}

/** The metric labels of an invoke: the version that ran, and the alias if the qualifier named one (it resolved, so it exists). */
function metricLabels(req: Pick<RunRequest, 'qualifier'>, version: FunctionVersion): FunctionLabels {
  const { qualifier } = req;
  const labels = { account: version.accountId, function: version.name, version: version.version };
  return qualifier && qualifier !== version.version && qualifier !== '$LATEST' ? { ...labels, alias: qualifier } : labels;
}

/**
 * The invocation's X-Ray trace header (Lambda-Runtime-Trace-Id, _X_AMZN_TRACE_ID), as Lambda
 * makes it: the caller's trace (its Root and sampling decision) continued under a new Parent,
 * the function's segment; without a caller's trace, a new Root from the invocation's epoch
 * seconds and request id, not sampled.
 */
function traceId(requestId: string, nowMs: number, caller: string | undefined): string {
  const hex = requestId.replaceAll('-', '');
  const parent = hex.slice(16, 32);
  const root = caller === undefined ? undefined : xrayField(caller, 'Root');
  const sampled = caller === undefined ? undefined : xrayField(caller, 'Sampled');
  if (root) return `Root=${root};Parent=${parent};Sampled=${sampled === '1' ? '1' : '0'}`;
  return `Root=1-${Math.floor(nowMs / 1000).toString(16)}-${hex.slice(0, 24)};Parent=${parent};Sampled=0`;
}
