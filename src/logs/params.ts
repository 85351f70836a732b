import { StratusError } from '../shared/errors.js';
import { Validator, type StringRule } from '../shared/validation.js';

/** A log group name as CloudWatch Logs allows it. */
export const GROUP_NAME = { min: 1, max: 512, pattern: /^[.\-_/#A-Za-z0-9]+$/, patternText: '[\\.\\-_/#A-Za-z0-9]+' } as const;
/** A log stream name: anything but ':' and '*'. */
export const STREAM_NAME = { min: 1, max: 512, pattern: /^[^:*]*$/, patternText: '[^:*]*' } as const;

/** PutRetentionPolicy's only accepted day counts. */
export const RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/** CloudWatch Logs' InvalidParameterException. */
export function invalidParameter(message: string): StratusError {
  return new StratusError('InvalidParameterValue', message);
}

/**
 * A CloudWatch Logs request's parameters, checked in CloudWatch's words (the shared `Validator`,
 * each parameter named by its key): every violation is collected and reported at once as
 * InvalidParameterException "N validation error(s) detected: Value 'x' at 'field' failed to
 * satisfy constraint: ...".
 */
export class Params {
  private readonly v: Validator;

  constructor(private readonly body: Record<string, unknown>) {
    this.v = new Validator(body, [], 'InvalidParameterValue');
  }

  string(key: string, rule: StringRule = {}): string | undefined {
    return this.v.string(key, key, rule);
  }

  /** A string that must be present (the request is refused if it is not, so '' stands in until then). */
  required(key: string, rule: StringRule = {}): string {
    return this.string(key, { ...rule, required: true }) ?? '';
  }

  integer(key: string, min: number, max: number, rule: { required?: boolean } = {}): number | undefined {
    return this.v.integer(key, key, min, max, rule);
  }

  boolean(key: string): boolean | undefined {
    return this.v.boolean(key, key);
  }

  /** A list of strings, each checked by `rule`, with `minItems`..`maxItems` items. */
  stringList(key: string, minItems: number, maxItems: number, rule: StringRule = {}): string[] | undefined {
    const value = this.body[key];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) return this.v.reject(value, key, 'Member must be a list of strings');
    if (value.length < minItems) return this.v.reject(value, key, `Member must have length greater than or equal to ${minItems}`);
    if (value.length > maxItems) return this.v.reject(value, key, `Member must have length less than or equal to ${maxItems}`);
    const checked = (value as string[]).map((item, i) => this.v.checkString(item, `${key}.${i + 1}.member`, rule));
    return checked.every((item) => item !== undefined) ? (checked as string[]) : undefined;
  }

  /** The raw value (for lists of structures, checked by the caller with `reject`). */
  raw(key: string): unknown {
    return this.body[key];
  }

  reject(value: unknown, field: string, constraint: string): undefined {
    return this.v.reject(value, field, constraint);
  }

  /** Throws InvalidParameterException if anything failed. */
  done(): void {
    this.v.done();
  }
}
