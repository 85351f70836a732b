import { StratusError, type ErrorCode } from './errors.js';

/** A string member's constraints, as AWS's API models state them. */
export interface StringRule {
  required?: boolean;
  min?: number;
  max?: number;
  pattern?: RegExp;
  patternText?: string;
  enum?: readonly string[];
}

/**
 * Request validation in AWS's own words: every violation is collected and reported at once as
 * "N validation error(s) detected: Value 'x' at 'field' failed to satisfy constraint: ...".
 */
export class Validator {
  /**
   * `errors`: shared with the validator of the enclosing object (see `within`). `code`: the
   * error the violations are thrown as (Lambda's ValidationException; CloudWatch Logs says
   * InvalidParameterException in the same words).
   */
  constructor(private readonly body: Record<string, unknown>, private readonly errors: string[] = [], private readonly code: ErrorCode = 'Validation') {}

  /** A validator of a nested object whose violations are reported with this one's. */
  within(value: Record<string, unknown>): Validator {
    return new Validator(value, this.errors, this.code);
  }

  private fail(value: unknown, field: string, constraint: string): undefined {
    const shown = value === undefined || value === null ? 'null' : `'${typeof value === 'object' ? JSON.stringify(value) : String(value)}'`;
    this.errors.push(`Value ${shown} at '${field}' failed to satisfy constraint: ${constraint}`);
    return undefined;
  }

  string(key: string, field: string, rule: StringRule = {}): string | undefined {
    const value = this.body[key];
    if (value === undefined || value === null) return rule.required ? this.fail(value, field, 'Member must not be null') : undefined;
    if (typeof value !== 'string') return this.fail(value, field, 'Member must be a string');
    return this.checkString(value, field, rule);
  }

  /** A string's length, pattern and values (a member of a list, say). */
  checkString(value: string, field: string, rule: StringRule): string | undefined {
    if (rule.min !== undefined && value.length < rule.min) return this.fail(value, field, `Member must have length greater than or equal to ${rule.min}`);
    if (rule.max !== undefined && value.length > rule.max) return this.fail(value, field, `Member must have length less than or equal to ${rule.max}`);
    if (rule.pattern && !rule.pattern.test(value)) return this.fail(value, field, `Member must satisfy regular expression pattern: ${rule.patternText ?? rule.pattern.source}`);
    if (rule.enum && !rule.enum.includes(value)) return this.fail(value, field, `Member must satisfy enum value set: [${rule.enum.join(', ')}]`);
    return value;
  }

  integer(key: string, field: string, min: number, max: number, rule: { required?: boolean } = {}): number | undefined {
    const value = this.body[key];
    if (value === undefined || value === null) return rule.required ? this.fail(value, field, 'Member must not be null') : undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) return this.fail(value, field, 'Member must be an integer');
    if (value < min) return this.fail(value, field, `Member must have value greater than or equal to ${min}`);
    if (value > max) return this.fail(value, field, `Member must have value less than or equal to ${max}`);
    return value;
  }

  stringMap(value: unknown, field: string): Record<string, string> | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) return this.fail(value, field, 'Member must be a map');
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (!/^[a-zA-Z]([a-zA-Z0-9_])+$/.test(k)) return this.fail(k, `${field}.key`, 'Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+');
      if (typeof v !== 'string') return this.fail(v, `${field}.value`, 'Member must be a string');
      out[k] = v;
    }
    return out;
  }

  boolean(key: string, field: string): boolean | undefined {
    const value = this.body[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') return this.fail(value, field, 'Member must be a boolean');
    return value;
  }

  /** Resource tags: keys of 1..128 characters, string values of at most 256. */
  tagMap(key: string, field: string): Record<string, string> | undefined {
    const value = this.body[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) return this.fail(value, field, 'Member must be a map');
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k.length < 1 || k.length > 128) return this.fail(k, `${field}.key`, 'Member must have length less than or equal to 128');
      if (typeof v !== 'string') return this.fail(v, `${field}.value`, 'Member must be a string');
      if (v.length > 256) return this.fail(v, `${field}.value`, 'Member must have length less than or equal to 256');
      out[k] = v;
    }
    return out;
  }

  /** A list of strings of at most `max` items. */
  stringList(key: string, field: string, max: number): string[] | undefined {
    const value = this.body[key];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) return this.fail(value, field, 'Member must be a list of strings');
    if (value.length > max) return this.fail(value, field, `Member must have length less than or equal to ${max}`);
    return value as string[];
  }

  /** Adds a violation found by the caller (same message format). */
  reject(value: unknown, field: string, constraint: string): undefined {
    return this.fail(value, field, constraint);
  }

  object(key: string, field: string): Record<string, unknown> | undefined {
    const value = this.body[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) return this.fail(value, field, 'Member must be an object');
    return value as Record<string, unknown>;
  }

  /** Throws the violations (ValidationException, or the validator's `code`) if anything failed. */
  done(): void {
    const n = this.errors.length;
    if (n > 0) throw new StratusError(this.code, `${n} validation error${n > 1 ? 's' : ''} detected: ${this.errors.join('; ')}`);
  }
}
