import { StratusError } from '../shared/errors.js';

/** Lambda's LoggingConfig enums, in the order Lambda lists them in its errors. */
export const LOG_FORMATS = ['JSON', 'Text'] as const;
export const APPLICATION_LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export const SYSTEM_LOG_LEVELS = ['DEBUG', 'INFO', 'WARN'] as const;

export type LogFormat = (typeof LOG_FORMATS)[number];
export type ApplicationLogLevel = (typeof APPLICATION_LOG_LEVELS)[number];
export type SystemLogLevel = (typeof SYSTEM_LOG_LEVELS)[number];

/**
 * A function's LoggingConfig as stored: always complete (its log group named, the levels set
 * exactly when the format is JSON). A function stored before LoggingConfig existed has none and
 * reads as `defaultLogging(name)`.
 */
export interface LoggingConfig {
  logFormat: LogFormat;
  applicationLogLevel?: ApplicationLogLevel;
  systemLogLevel?: SystemLogLevel;
  logGroup: string;
}

/** What a CreateFunction or UpdateFunctionConfiguration request gave (any field may be missing). */
export type LoggingInput = Partial<LoggingConfig>;

/** Lambda's default: plain text, to `/aws/lambda/<name>`. */
export function defaultLogging(functionName: string): LoggingConfig {
  return { logFormat: 'Text', logGroup: `/aws/lambda/${functionName}` };
}

/** The configuration a function runs with: its own, or (stored before there was one) the default. */
export function loggingOf(fn: { name: string; loggingConfig?: LoggingConfig }): LoggingConfig {
  return fn.loggingConfig ?? defaultLogging(fn.name);
}

/**
 * The LoggingConfig after a request: the given fields over the current ones. Levels belong to
 * the JSON format only: given with Text they are refused as Lambda refuses them; a change to
 * Text drops them; JSON without them gets Lambda's defaults (INFO for both).
 */
export function applyLogging(current: LoggingConfig, given: LoggingInput): LoggingConfig {
  const logFormat = given.logFormat ?? current.logFormat;
  const logGroup = given.logGroup ?? current.logGroup;
  if (logFormat === 'Text') {
    if (given.applicationLogLevel !== undefined || given.systemLogLevel !== undefined) {
      throw new StratusError(
        'InvalidParameterValue',
        'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change the LogFormat to "Json" and try again.',
      );
    }
    return { logFormat, logGroup };
  }
  return {
    logFormat,
    applicationLogLevel: given.applicationLogLevel ?? current.applicationLogLevel ?? 'INFO',
    systemLogLevel: given.systemLogLevel ?? current.systemLogLevel ?? 'INFO',
    logGroup,
  };
}
