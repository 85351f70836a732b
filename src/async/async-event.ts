import { createHash } from 'node:crypto';
import type { QueuedEvent } from '../journal/index.js';
import { StratusError } from '../shared/errors.js';
import type { RunRequest } from './runner.js';

/**
 * The value of one item of the journal's event queue (format version 1): an accepted Event
 * invocation and what has happened to it so far. Everything is JSON; the payload is base64.
 */
export interface QueuedInvocation {
  v: 1;
  /** The function's account; absent in events queued before there were accounts (the administrator's). */
  accountId?: string;
  functionName: string;
  /** As the caller gave it (version or alias); absent for the unqualified function ($LATEST). */
  qualifier?: string;
  requestId: string;
  payload: string;
  clientContext?: string;
  /** The caller's trace header: the event's invocations continue its trace. */
  traceHeader?: string;
  acceptedAtMs: number;
  /** Invocations run so far (the record's approximateInvokeCount). */
  attempts: number;
  /** Attempts that ended in a function error: these count against MaximumRetryAttempts. */
  functionErrors: number;
  /** Throttles and platform errors in a row: the exponent of their back-off. */
  platformErrors: number;
  /** The last attempt's response, for the record an OnFailure destination receives. */
  last?: LastResponse;
  /** How many more events its chain may queue (destination records and dead letters, of those in turn); absent: MAX_CHAIN_EVENTS. */
  chainLeft?: number;
}

/**
 * The events one accepted event may lead to, all told (destination records and dead letters,
 * and theirs in turn), as Lambda's recursive loop detection stops a chain: two functions naming
 * each other as destinations must not pass failures back and forth for ever, nor double them.
 */
export const MAX_CHAIN_EVENTS = 16;

/**
 * The follow-up events of a finished event that its chain still allows (the first ones given),
 * each carrying its share of what the chain may queue after it.
 */
export function withinChain(finished: { chainLeft?: number }, followUps: QueuedEvent[]): QueuedEvent[] {
  const left = finished.chainLeft ?? MAX_CHAIN_EVENTS;
  const allowed = followUps.slice(0, Math.max(0, left));
  const share = allowed.length === 0 ? 0 : Math.floor((left - allowed.length) / allowed.length);
  return allowed.map((e) => ({ ...e, value: { ...(e.value as QueuedInvocation), chainLeft: share } }));
}

export interface LastResponse {
  statusCode: number;
  executedVersion: string;
  functionError?: string;
  /** base64 */
  payload: string;
}

/** Why an event ended, as Lambda names it in the invocation record. */
export type Condition = 'Success' | 'RetriesExhausted' | 'EventAgeExceeded';

/** The queue item for a newly accepted Event invoke. */
export function newQueuedInvocation(request: RunRequest, nowMs: number): QueuedEvent {
  const value: QueuedInvocation = {
    v: 1, accountId: request.accountId, functionName: request.functionName, requestId: request.requestId, payload: request.payload.toString('base64'),
    acceptedAtMs: nowMs, attempts: 0, functionErrors: 0, platformErrors: 0,
    ...(request.qualifier !== undefined ? { qualifier: request.qualifier } : {}),
    ...(request.clientContext !== undefined ? { clientContext: request.clientContext } : {}),
    ...(request.traceHeader !== undefined ? { traceHeader: request.traceHeader } : {}),
  };
  return { id: request.requestId, dueAtMs: nowMs, value };
}

/** A queue item's invocation; one queued before there were accounts belongs to `unowned`. */
export function readQueuedInvocation(value: unknown, unowned: string): QueuedInvocation & { accountId: string } {
  const v = value as Partial<QueuedInvocation> | null;
  if (!v || v.v !== 1 || typeof v.functionName !== 'string' || typeof v.payload !== 'string' || typeof v.requestId !== 'string') {
    throw new StratusError('Internal', `unreadable queued event: ${JSON.stringify(value).slice(0, 200)}`);
  }
  return { ...(v as QueuedInvocation), accountId: v.accountId ?? unowned };
}

export function toRunRequest(ev: QueuedInvocation & { accountId: string }): RunRequest {
  return {
    accountId: ev.accountId, functionName: ev.functionName, qualifier: ev.qualifier, requestId: ev.requestId,
    payload: Buffer.from(ev.payload, 'base64'), clientContext: ev.clientContext, tailLog: false,
    ...(ev.traceHeader !== undefined ? { traceHeader: ev.traceHeader } : {}),
  };
}

/** A function ARN (a destination, a dead-letter target, a schedule's target): a Stratus function, optionally qualified. */
export const FUNCTION_ARN = /^arn:aws[a-zA-Z-]*:lambda:[a-z]{2}(?:-gov)?-[a-z]+-\d:(\d{12}):function:([a-zA-Z0-9_-]{1,64})(?::(\$LATEST|[a-zA-Z0-9_-]{1,128}))?$/;

export interface FunctionTarget {
  accountId: string;
  functionName: string;
  qualifier?: string;
}

export function functionTarget(arn: string): FunctionTarget | undefined {
  const m = FUNCTION_ARN.exec(arn);
  if (!m?.[1] || !m[2]) return undefined;
  return { accountId: m[1], functionName: m[2], ...(m[3] === undefined ? {} : { qualifier: m[3] }) };
}

/**
 * Lambda's invocation record (version 1.0), which a destination function receives as its event.
 * `functionArn` is the invoked function's ARN with the qualifier it was invoked with.
 */
export function invocationRecord(ev: QueuedInvocation, functionArn: string, condition: Condition, nowMs: number): Record<string, unknown> {
  const record: Record<string, unknown> = {
    version: '1.0',
    timestamp: new Date(nowMs).toISOString(),
    requestContext: {
      requestId: ev.requestId, functionArn: `${functionArn}:${ev.qualifier ?? '$LATEST'}`, condition, approximateInvokeCount: ev.attempts,
    },
    requestPayload: jsonOrText(ev.payload),
  };
  if (ev.last) {
    const { statusCode, executedVersion, functionError } = ev.last;
    record.responseContext = { statusCode, executedVersion, ...(functionError !== undefined ? { functionError } : {}) };
    record.responsePayload = jsonOrText(ev.last.payload);
  }
  return record;
}

/**
 * The queue item that delivers `record` to a destination function as an Event invoke. Its id
 * (the destination's request id) is derived from the finished event's, so that finishing the
 * same event again after a crash queues nothing new while the first record is still queued.
 */
export function destinationEvent(target: FunctionTarget, record: unknown, finishedId: string, nowMs: number): QueuedEvent {
  const request: RunRequest = {
    accountId: target.accountId, functionName: target.functionName, qualifier: target.qualifier, requestId: derivedRequestId(`${finishedId}/destination`),
    payload: Buffer.from(JSON.stringify(record)), tailLog: false,
  };
  return newQueuedInvocation(request, nowMs);
}

/**
 * The queue item that gives a failed event, as it was sent, to the function's dead-letter
 * function (DeadLetterConfig); its id is derived from the finished event's, as a destination's.
 */
export function deadLetterEvent(target: FunctionTarget, payloadBase64: string, finishedId: string, nowMs: number): QueuedEvent {
  const request: RunRequest = {
    accountId: target.accountId, functionName: target.functionName, qualifier: target.qualifier, requestId: derivedRequestId(`${finishedId}/dead-letter`),
    payload: Buffer.from(payloadBase64, 'base64'), tailLog: false,
  };
  return newQueuedInvocation(request, nowMs);
}

/** A UUID (version 8 layout) determined by `seed`. */
function derivedRequestId(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function jsonOrText(base64: string): unknown {
  const text = Buffer.from(base64, 'base64').toString('utf8');
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
