/**
 * Error types raised by the runtime and their wire/log representations.
 * Mirrors aws-lambda-nodejs-runtime-interface-client (src/Errors.js): runtime
 * errors are named `Runtime.<Class>`, and wrapping an error puts its string
 * form (e.g. "Error: Cannot find module 'x'") into the message.
 */
import { types } from 'node:util';

/** Body of POST .../error and .../init/error. */
export interface RapidErrorBody {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

function describe(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export class ImportModuleError extends Error {
  constructor(cause: unknown) {
    super(describe(cause));
  }
}
export class HandlerNotFound extends Error {}
export class MalformedHandlerName extends Error {}
export class UserCodeSyntaxError extends Error {
  constructor(cause: unknown) {
    super(describe(cause));
  }
}
export class NodeJsExit extends Error {
  constructor() {
    super(
      'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  }
}
export class UnhandledPromiseRejection extends Error {
  reason: unknown;
  promise: unknown;
  constructor(reason: unknown, promise: unknown) {
    super(describe(reason));
    this.reason = reason;
    this.promise = promise;
  }
}

for (const cls of [
  ImportModuleError,
  HandlerNotFound,
  MalformedHandlerName,
  UserCodeSyntaxError,
  NodeJsExit,
  UnhandledPromiseRejection,
]) {
  cls.prototype.name = `Runtime.${cls.name}`;
}

interface ErrorLike {
  name: string;
  message: string;
  stack: string;
}

function isErrorLike(obj: unknown): obj is ErrorLike {
  if (typeof obj !== 'object' || obj === null) return false;
  const o = obj as Partial<Record<keyof ErrorLike, unknown>>;
  return (
    typeof o.name === 'string' &&
    typeof o.message === 'string' &&
    typeof o.stack === 'string' &&
    o.name !== '' &&
    o.message !== '' &&
    o.stack !== ''
  );
}

export function intoError(err: unknown): Error {
  return err instanceof Error ? err : new Error(describe(err));
}

const escapeDel = (s: string): string => s.replaceAll('\x7F', '%7F');

/**
 * Convert anything thrown/rejected/passed to callback into the Runtime API body.
 * Non-errors keep their `typeof` as errorType (a thrown string gives
 * {"errorType":"string","errorMessage":"...","trace":[]}), as Lambda does.
 */
export function toRapidResponse(error: unknown): RapidErrorBody {
  try {
    if (types.isNativeError(error) || isErrorLike(error)) {
      const e = error as Error;
      return {
        errorType: escapeDel(String(e.name)),
        errorMessage: escapeDel(String(e.message)),
        trace: escapeDel(String(e.stack)).split('\n'),
      };
    }
    return {
      errorType: typeof error,
      errorMessage: String((error as { toString(): string }).toString()),
      trace: [],
    };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

/** Error names, message, code and stack are non-enumerable; expose them for JSON. */
function withEnumerableProperties(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const ret: Record<string, unknown> = {
    errorType: value.name,
    errorMessage: value.message,
    code: (value as { code?: unknown }).code,
  };
  Object.assign(ret, value);
  if (typeof value.stack === 'string') ret['stack'] = value.stack.split('\n');
  return ret;
}

/** Text-log form of an error; always starts with a tab (Lambda compatibility). */
export function toFormatted(error: unknown): string {
  try {
    return '\t' + JSON.stringify(error, (_k, v: unknown) => withEnumerableProperties(v));
  } catch {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}
