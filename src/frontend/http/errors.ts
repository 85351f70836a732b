import type { HttpResponse } from '../../shared/http-server.js';
import { StratusError, type ErrorCode } from '../../shared/errors.js';
import type { VerifyFailureCode } from './sigv4.js';

/** The only place where platform error codes become wire errors (Lambda's, and CloudWatch Logs' below). */
interface Wire {
  type: string;
  status: number;
  /** Lambda's own exceptions carry "Type": "User"; framework ones (validation, size) do not. */
  typed?: boolean;
  /** ResourceNotFoundException and ServiceException spell it "Message". */
  capital?: boolean;
}

const WIRE: Record<ErrorCode, Wire> = {
  ResourceNotFound: { type: 'ResourceNotFoundException', status: 404, typed: true, capital: true },
  ResourceConflict: { type: 'ResourceConflictException', status: 409, typed: true },
  PreconditionFailed: { type: 'PreconditionFailedException', status: 412, typed: true },
  ProvisionedConcurrencyConfigNotFound: { type: 'ProvisionedConcurrencyConfigNotFoundException', status: 404, typed: true },
  CodeSigningConfigNotFound: { type: 'CodeSigningConfigNotFoundException', status: 404, typed: true, capital: true },
  InvalidParameterValue: { type: 'InvalidParameterValueException', status: 400, typed: true },
  Validation: { type: 'ValidationException', status: 400 },
  InvalidRequestContent: { type: 'InvalidRequestContentException', status: 400, typed: true },
  RequestTooLarge: { type: 'RequestEntityTooLargeException', status: 413 },
  InvalidZipFile: { type: 'InvalidParameterValueException', status: 400, typed: true },
  CodeStorageExceeded: { type: 'CodeStorageExceededException', status: 400, typed: true },
  QuotaExceeded: { type: 'ServiceQuotaExceededException', status: 400, typed: true },
  PolicyLengthExceeded: { type: 'PolicyLengthExceededException', status: 400, typed: true },
  TooManyRequests: { type: 'TooManyRequestsException', status: 429, typed: true },
  Forbidden: { type: 'AccessDeniedException', status: 403, capital: true },
  ServiceUnavailable: { type: 'ServiceException', status: 503, typed: true, capital: true },
  SandboxCreateFailed: { type: 'ServiceException', status: 500, typed: true, capital: true },
  SnapshotFailed: { type: 'ServiceException', status: 500, typed: true, capital: true },
  WorkerUnavailable: { type: 'ServiceException', status: 500, typed: true, capital: true },
  Internal: { type: 'ServiceException', status: 500, typed: true, capital: true },
  InvalidConfig: { type: 'ServiceException', status: 500, typed: true, capital: true },
  Fenced: { type: 'ServiceException', status: 503, typed: true, capital: true },
  NotLeader: { type: 'ServiceException', status: 503, typed: true, capital: true },
  JournalUnavailable: { type: 'ServiceException', status: 503, typed: true, capital: true },
  // Lambda has no error of its own for this; its ServiceException (500) with a message that says what to do.
  DiskFull: { type: 'ServiceException', status: 500, typed: true, capital: true },
};

const AUTH_WIRE: Record<VerifyFailureCode, Wire> = {
  MissingAuthenticationToken: { type: 'MissingAuthenticationTokenException', status: 403 },
  IncompleteSignature: { type: 'IncompleteSignatureException', status: 403 },
  UnrecognizedClient: { type: 'UnrecognizedClientException', status: 403 },
  InvalidSignature: { type: 'InvalidSignatureException', status: 403 },
  SignatureExpired: { type: 'InvalidSignatureException', status: 403 },
};

/** The header that names a Lambda error's type (clients such as `stratus accounts` read it back). */
export const ERROR_TYPE_HEADER = 'x-amzn-errortype';

/** The reply for a thrown error: Lambda's type, status and body for its code. */
export function errorResponse(err: unknown): HttpResponse {
  const e = err instanceof StratusError ? err : new StratusError('Internal', 'An internal error occurred.', { cause: err });
  const wire = WIRE[e.code];
  const message = e.code === 'Internal' ? 'An internal error occurred.' : e.message;
  const body: Record<string, string> = { ...e.details };
  if (wire.typed) body.Type = e.blame === 'user' ? 'User' : 'Service';
  body[wire.capital ? 'Message' : 'message'] = message;
  return reply(wire, body);
}

export function authErrorResponse(code: VerifyFailureCode, message: string): HttpResponse {
  return reply(AUTH_WIRE[code], { message });
}

function reply(wire: Wire, body: unknown): HttpResponse {
  return { status: wire.status, body, headers: { 'content-type': 'application/json', [ERROR_TYPE_HEADER]: wire.type } };
}

/**
 * CloudWatch Logs' wire errors (AWS JSON 1.1): `{"__type": "<Type>", "message": "..."}`, HTTP
 * 400 for the caller's errors and 500 for ours.
 */
const LOGS_WIRE: Record<ErrorCode, string> = {
  ResourceNotFound: 'ResourceNotFoundException',
  ResourceConflict: 'ResourceAlreadyExistsException',
  PreconditionFailed: 'InvalidParameterException',
  ProvisionedConcurrencyConfigNotFound: 'ResourceNotFoundException',
  CodeSigningConfigNotFound: 'ResourceNotFoundException',
  InvalidParameterValue: 'InvalidParameterException',
  Validation: 'InvalidParameterException',
  InvalidRequestContent: 'SerializationException',
  RequestTooLarge: 'InvalidParameterException',
  InvalidZipFile: 'InvalidParameterException',
  CodeStorageExceeded: 'LimitExceededException',
  QuotaExceeded: 'LimitExceededException',
  PolicyLengthExceeded: 'InvalidParameterException',
  TooManyRequests: 'ThrottlingException',
  Forbidden: 'AccessDeniedException',
  ServiceUnavailable: 'ServiceUnavailableException',
  SandboxCreateFailed: 'ServiceUnavailableException',
  SnapshotFailed: 'ServiceUnavailableException',
  WorkerUnavailable: 'ServiceUnavailableException',
  Internal: 'ServiceUnavailableException',
  InvalidConfig: 'ServiceUnavailableException',
  Fenced: 'ServiceUnavailableException',
  NotLeader: 'ServiceUnavailableException',
  JournalUnavailable: 'ServiceUnavailableException',
  DiskFull: 'ServiceUnavailableException',
};

export const JSON_11_CONTENT_TYPE = 'application/x-amz-json-1.1';

function json11(status: number, body: Record<string, string>): HttpResponse {
  return { status, body, headers: { 'content-type': JSON_11_CONTENT_TYPE } };
}

/** The CloudWatch Logs reply for a thrown error. */
export function logsErrorResponse(err: unknown): HttpResponse {
  const e = err instanceof StratusError ? err : new StratusError('Internal', 'An internal error occurred.', { cause: err });
  const message = e.code === 'Internal' ? 'An internal error occurred.' : e.message;
  return json11(e.blame === 'user' ? 400 : 500, { __type: LOGS_WIRE[e.code], message });
}

/** A request whose signature is refused, as CloudWatch Logs answers it. */
export function logsAuthErrorResponse(code: VerifyFailureCode, message: string): HttpResponse {
  return json11(400, { __type: AUTH_WIRE[code].type, message });
}

/** An X-Amz-Target that names no CloudWatch Logs operation. */
export function logsUnknownOperationResponse(): HttpResponse {
  return json11(400, { __type: 'UnknownOperationException' });
}

/**
 * EventBridge Scheduler's wire errors (REST-JSON): the type in `x-amzn-ErrorType`, the body
 * `{"Message": "..."}`, AWS's status for each exception.
 */
const SCHEDULER_WIRE: Partial<Record<ErrorCode, Wire>> = {
  ResourceNotFound: { type: 'ResourceNotFoundException', status: 404 },
  ResourceConflict: { type: 'ConflictException', status: 409 },
  QuotaExceeded: { type: 'ServiceQuotaExceededException', status: 402 },
  TooManyRequests: { type: 'ThrottlingException', status: 429 },
};

/**
 * The Scheduler reply for a thrown error: the caller's other errors are ValidationException, ours
 * InternalServerException, whose message is ours too (e.g. that the data disk is full) unless the
 * error is an unexpected one.
 */
export function schedulerErrorResponse(err: unknown): HttpResponse {
  const e = err instanceof StratusError ? err : new StratusError('Internal', 'An internal error occurred.', { cause: err });
  const wire = SCHEDULER_WIRE[e.code] ?? (e.blame === 'user' ? { type: 'ValidationException', status: 400 } : { type: 'InternalServerException', status: 500 });
  return reply(wire, { Message: e.code === 'Internal' ? 'An internal error occurred.' : e.message });
}
