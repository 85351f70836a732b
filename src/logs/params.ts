import { StratusError } from '../shared/errors.js';

/** A log group name as CloudWatch Logs allows it. */
export const GROUP_NAME = { min: 1, max: 512, pattern: /^[.\-_/#A-Za-z0-9]+$/, patternText: '[\\.\\-_/#A-Za-z0-9]+' } as const;
/** A log stream name: anything but ':' and '*'. */
export const STREAM_NAME = { min: 1, max: 512, pattern: /^[^:*]*$/, patternText: '[^:*]*' } as const;

/** PutRetentionPolicy's only accepted day counts. */
export const RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

interface StringRule {
  required?: boolean;
  min?: number;
  max?: number;
  pattern?: RegExp;
  patternText?: string;
  enum?: readonly string[];
}

/** CloudWatch Logs' InvalidParameterException. */
export function invalidParameter(message: string): StratusError {
  return new StratusError('InvalidParameterValue', message);
}

/**
 * A CloudWatch Logs request's parameters, checked in CloudWatch's words: every violation is
 * collected and reported at once as InvalidParameterException "N validation error(s) detected:
 * Value 'x' at 'field' failed to satisfy constraint: ...".
 */
export class Params {
  private readonly errors: string[] = [];

  constructor(private readonly body: Record<string, unknown>) {}

  private fail(value: unknown, field: string, constraint: string): undefined {
    const shown = value === undefined || value === null ? 'null' : `'${typeof value === 'object' ? JSON.stringify(value) : String(value)}'`;
    this.errors.push(`Value ${shown} at '${field}' failed to satisfy constraint: ${constraint}`);
    return undefined;
  }

  string(key: string, rule: StringRule = {}): string | undefined {
    const value = this.body[key];
    if (value === undefined || value === null) return rule.required ? this.fail(value, key, 'Member must not be null') : undefined;
    if (typeof value !== 'string') return this.fail(value, key, 'Member must be a string');
    return this.checkString(value, key, rule);
  }

  /** A string that must be present (the request is refused if it is not, so '' stands in until then). */
  required(key: string, rule: StringRule = {}): string {
    return this.string(key, { ...rule, required: true }) ?? '';
  }

  private checkString(value: string, field: string, rule: StringRule): string | undefined {
    if (rule.min !== undefined && value.length < rule.min) return this.fail(value, field, `Member must have length greater than or equal to ${rule.min}`);
    if (rule.max !== undefined && value.length > rule.max) return this.fail(value, field, `Member must have length less than or equal to ${rule.max}`);
    if (rule.pattern && !rule.pattern.test(value)) return this.fail(value, field, `Member must satisfy regular expression pattern: ${rule.patternText ?? rule.pattern.source}`);
    if (rule.enum && !rule.enum.includes(value)) return this.fail(value, field, `Member must satisfy enum value set: [${rule.enum.join(', ')}]`);
    return value;
  }

  integer(key: string, min: number, max: number, rule: { required?: boolean } = {}): number | undefined {
    const value = this.body[key];
    if (value === undefined || value === null) return rule.required ? this.fail(value, key, 'Member must not be null') : undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) return this.fail(value, key, 'Member must be an integer');
    if (value < min) return this.fail(value, key, `Member must have value greater than or equal to ${min}`);
    if (value > max) return this.fail(value, key, `Member must have value less than or equal to ${max}`);
    return value;
  }

  boolean(key: string): boolean | undefined {
    const value = this.body[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') return this.fail(value, key, 'Member must be a boolean');
    return value;
  }

  /** A list of strings, each checked by `rule`, with `minItems`..`maxItems` items. */
  stringList(key: string, minItems: number, maxItems: number, rule: StringRule = {}): string[] | undefined {
    const value = this.body[key];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) return this.fail(value, key, 'Member must be a list of strings');
    if (value.length < minItems) return this.fail(value, key, `Member must have length greater than or equal to ${minItems}`);
    if (value.length > maxItems) return this.fail(value, key, `Member must have length less than or equal to ${maxItems}`);
    const checked = (value as string[]).map((item, i) => this.checkString(item, `${key}.${i + 1}.member`, rule));
    return checked.every((item) => item !== undefined) ? (checked as string[]) : undefined;
  }

  /** The raw value (for lists of structures, checked by the caller with `reject`). */
  raw(key: string): unknown {
    return this.body[key];
  }

  reject(value: unknown, field: string, constraint: string): undefined {
    return this.fail(value, field, constraint);
  }

  /** Throws InvalidParameterException if anything failed. */
  done(): void {
    const n = this.errors.length;
    if (n > 0) throw invalidParameter(`${n} validation error${n > 1 ? 's' : ''} detected: ${this.errors.join('; ')}`);
  }
}
