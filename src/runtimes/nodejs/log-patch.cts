/**
 * Replaces console.* so each call is exactly one process.stdout.write of one
 * line, in Lambda's Node.js format:
 *   TEXT: `${iso time}\t${requestId}\t${LEVEL}\t${util.format(...args)}`
 *   JSON (AWS_LAMBDA_LOG_FORMAT=JSON): {"timestamp","level","requestId","message",...}
 * Like the official runtime client, embedded newlines become '\r' so one log
 * record is always one line. AWS_LAMBDA_LOG_LEVEL filters levels.
 */
import { format } from 'node:util';
import { intoError, toFormatted } from './errors.cjs';

interface Level {
  name: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';
  priority: number;
}
type LogFn = (level: Level, params: unknown[]) => void;

const LEVELS: Record<Level['name'], Level> = {
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
};

/* Kept on globalThis under a registered symbol, as the official client does. */
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const store = globalThis as unknown as Record<symbol, string | undefined>;

export function setCurrentRequestId(id: string | undefined): void {
  store[REQUEST_ID] = id;
}

function currentRequestId(): string | undefined {
  return store[REQUEST_ID];
}

const NEWLINES = /\n/g;

const logText: LogFn = (level, params) => {
  const line = `${new Date().toISOString()}\t${currentRequestId()}\t${level.name}\t${format(...params)}`;
  process.stdout.write(line.replace(NEWLINES, '\r') + '\n');
};

function jsonReplacer(_key: string, value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  return Object.assign(
    {
      errorType: value.constructor?.name ?? 'UnknownError',
      errorMessage: value.message,
      stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
    },
    value,
  );
}

function formatJson(level: Level, params: unknown[]): string {
  const result: Record<string, unknown> = {
    timestamp: new Date().toISOString(),
    level: level.name,
    requestId: currentRequestId(),
  };
  if (params.length === 1) {
    result['message'] = params[0];
    try {
      return JSON.stringify(result, jsonReplacer);
    } catch {
      result['message'] = format(params[0]);
      return JSON.stringify(result);
    }
  }
  result['message'] = format(...params);
  const err = params.find((p): p is Error => p instanceof Error);
  if (err) {
    result['errorType'] = err.constructor?.name ?? 'UnknownError';
    result['errorMessage'] = err.message;
    result['stackTrace'] = typeof err.stack === 'string' ? err.stack.split('\n') : [];
  }
  return JSON.stringify(result);
}

const logJson: LogFn = (level, params) => {
  process.stdout.write(formatJson(level, params).replace(NEWLINES, '\r') + '\n');
};

let useJson = false;

/** Patch console.{trace,debug,info,log,warn,error,fatal}. Call once at start-up. */
export function patchConsole(env: NodeJS.ProcessEnv = process.env): void {
  useJson = env['AWS_LAMBDA_LOG_FORMAT']?.toUpperCase() === 'JSON';
  const log = useJson ? logJson : logText;
  const wanted = env['AWS_LAMBDA_LOG_LEVEL']?.toUpperCase() as Level['name'] | undefined;
  const minimum = (wanted && LEVELS[wanted]) || LEVELS.TRACE;
  const make = (level: Level) =>
    level.priority >= minimum.priority
      ? (...params: unknown[]): void => log(level, params)
      : (): void => {};
  const c = console as Console & { fatal?: (...params: unknown[]) => void };
  c.trace = make(LEVELS.TRACE);
  c.debug = make(LEVELS.DEBUG);
  c.info = make(LEVELS.INFO);
  c.log = c.info;
  c.warn = make(LEVELS.WARN);
  c.error = make(LEVELS.ERROR);
  c.fatal = (...params: unknown[]): void => log(LEVELS.FATAL, params);
}

/**
 * Log an error raised outside user logging, e.g.
 * `...\tundefined\tERROR\tUncaught Exception \t{"errorType":"Runtime.ImportModuleError",...}`.
 */
export function logError(message: string, err: unknown): void {
  if (useJson) console.error(intoError(err));
  else console.error(message, toFormatted(intoError(err)));
}
