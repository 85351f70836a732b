import { StratusError } from '../../shared/errors.js';

export { Validator } from '../../shared/validation.js';

/** Parses a JSON request body into an object, or throws Lambda's error for it. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new StratusError('Validation', 'Could not parse request body into json: the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new StratusError('Validation', 'Could not parse request body into json: the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}
