/**
 * One base error for the whole platform. Components throw `StratusError` with a stable code;
 * only the frontend maps codes to Lambda's wire errors (see frontend/errors.ts).
 */
export type ErrorCode =
  | 'ResourceNotFound'
  | 'ResourceConflict'
  | 'PreconditionFailed'
  | 'ProvisionedConcurrencyConfigNotFound'
  | 'InvalidParameterValue'
  | 'Validation'
  | 'InvalidRequestContent'
  | 'RequestTooLarge'
  | 'InvalidZipFile'
  | 'CodeStorageExceeded'
  | 'TooManyRequests'
  /** A function URL request without a valid signature (AWS_IAM). */
  | 'Forbidden'
  | 'ServiceUnavailable'
  | 'SandboxCreateFailed'
  /** A sandbox could not be checkpointed or restored (SnapStart); the caller falls back. */
  | 'SnapshotFailed'
  | 'WorkerUnavailable'
  /** A journal write by a leadership that is no longer current (see Journal's fencing). */
  | 'Fenced'
  /** A request for the assignment leader reached a replica that is not (or no longer) leader. */
  | 'NotLeader'
  /** The journal cannot commit (e.g. etcd has no quorum). */
  | 'JournalUnavailable'
  /** The configuration cannot work on this host (found at start-up). */
  | 'InvalidConfig'
  | 'Internal';

export class StratusError extends Error {
  readonly code: ErrorCode;
  /** Extra fields a wire mapping may need (e.g. a throttling Reason). */
  readonly details: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; details?: Record<string, string> } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'StratusError';
    this.code = code;
    this.details = opts.details ?? {};
  }
}

export function isStratusError(e: unknown): e is StratusError {
  return e instanceof StratusError;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
