/**
 * One base error for the whole platform. Components throw `StratusError` with a stable code;
 * only the frontend maps codes to Lambda's wire errors (see frontend/http/errors.ts).
 */
export type ErrorCode =
  | 'ResourceNotFound'
  | 'ResourceConflict'
  | 'PreconditionFailed'
  | 'ProvisionedConcurrencyConfigNotFound'
  /** A code signing configuration named by ARN does not exist (Stratus never has one). */
  | 'CodeSigningConfigNotFound'
  | 'InvalidParameterValue'
  | 'Validation'
  | 'InvalidRequestContent'
  | 'RequestTooLarge'
  | 'InvalidZipFile'
  | 'CodeStorageExceeded'
  /** An account's quota (e.g. its number of functions) would be passed. */
  | 'QuotaExceeded'
  /** A resource policy would exceed its size limit (AddPermission). */
  | 'PolicyLengthExceeded'
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
  /** The data disk has no room for a write that would grow the stored data (deletes still work). */
  | 'DiskFull'
  | 'Internal';

/** Who caused an error: the caller's request (`user`) or Stratus itself (`platform`). */
export type Blame = 'user' | 'platform';

/**
 * Each code's nature: who is to blame, and whether the same request may succeed if tried again
 * (later, or elsewhere). Callers branch on these, never on HTTP statuses or message text.
 */
const NATURE: Record<ErrorCode, { blame: Blame; retryable: boolean }> = {
  ResourceNotFound: { blame: 'user', retryable: false },
  ResourceConflict: { blame: 'user', retryable: false },
  PreconditionFailed: { blame: 'user', retryable: false },
  ProvisionedConcurrencyConfigNotFound: { blame: 'user', retryable: false },
  CodeSigningConfigNotFound: { blame: 'user', retryable: false },
  InvalidParameterValue: { blame: 'user', retryable: false },
  Validation: { blame: 'user', retryable: false },
  InvalidRequestContent: { blame: 'user', retryable: false },
  RequestTooLarge: { blame: 'user', retryable: false },
  InvalidZipFile: { blame: 'user', retryable: false },
  CodeStorageExceeded: { blame: 'user', retryable: false },
  QuotaExceeded: { blame: 'user', retryable: false },
  PolicyLengthExceeded: { blame: 'user', retryable: false },
  TooManyRequests: { blame: 'user', retryable: true },
  Forbidden: { blame: 'user', retryable: false },
  ServiceUnavailable: { blame: 'platform', retryable: true },
  SandboxCreateFailed: { blame: 'platform', retryable: false },
  SnapshotFailed: { blame: 'platform', retryable: false },
  WorkerUnavailable: { blame: 'platform', retryable: true },
  Fenced: { blame: 'platform', retryable: true },
  NotLeader: { blame: 'platform', retryable: true },
  JournalUnavailable: { blame: 'platform', retryable: true },
  InvalidConfig: { blame: 'platform', retryable: false },
  DiskFull: { blame: 'platform', retryable: true },
  Internal: { blame: 'platform', retryable: false },
};

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

  get blame(): Blame {
    return NATURE[this.code].blame;
  }

  get retryable(): boolean {
    return NATURE[this.code].retryable;
  }
}

/** An error as it crosses Stratus's internal APIs: nothing of it is lost on the way. */
export interface WireError {
  code: ErrorCode;
  message: string;
  details: Record<string, string>;
  blame: Blame;
  retryable: boolean;
}

/** The wire form of any thrown value (what is not a StratusError is `Internal`). */
export function toWireError(err: unknown): WireError {
  const e = isStratusError(err) ? err : new StratusError('Internal', errorMessage(err), { cause: err });
  return { code: e.code, message: e.message, details: { ...e.details }, blame: e.blame, retryable: e.retryable };
}

/**
 * The StratusError a wire error stands for. An answer that is not one (a proxy's page, a reply
 * cut short) is `unrecognised`: by default `Internal`; a client may know better (a worker that
 * answers nonsense is unavailable).
 */
export function fromWireError(wire: unknown, fallbackMessage: string, unrecognised: ErrorCode = 'Internal'): StratusError {
  const w = (typeof wire === 'object' && wire !== null ? wire : {}) as Partial<WireError>;
  const known = typeof w.code === 'string' && Object.hasOwn(NATURE, w.code);
  const code = known && w.code ? w.code : unrecognised;
  const details = typeof w.details === 'object' && w.details !== null ? w.details : {};
  return new StratusError(code, typeof w.message === 'string' ? w.message : fallbackMessage, { details });
}

/** The HTTP status an internal API answers an error with (for people reading traffic; clients read the body). */
export function wireStatus(code: ErrorCode): number {
  if (code === 'ResourceNotFound') return 404;
  if (code === 'TooManyRequests') return 429;
  if (code === 'RequestTooLarge') return 413;
  if (code === 'Fenced') return 409;
  if (NATURE[code].blame === 'user') return 400;
  return NATURE[code].retryable ? 503 : 500;
}

export function isStratusError(e: unknown): e is StratusError {
  return e instanceof StratusError;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
