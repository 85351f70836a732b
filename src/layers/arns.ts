import { StratusError } from '../shared/errors.js';

/** A layer's name or ARN, as LayerName in a path may give it. */
export const LAYER_NAME_PATTERN = /^(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+|[a-zA-Z0-9-_]+)$/;
export const LAYER_NAME_PATTERN_TEXT = '(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+';
/** A layer version's ARN (Layers members; GetLayerVersionByArn's Arn). */
export const LAYER_VERSION_ARN = /^arn:[a-zA-Z0-9-]+:lambda:([a-zA-Z0-9-]+):(\d{12}):layer:([a-zA-Z0-9-_]+):([0-9]+)$/;
export const LAYER_VERSION_ARN_TEXT = 'arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+';

/** `arn:aws:lambda:<region>:<account>:layer:<name>`. */
export function layerArn(region: string, accountId: string, name: string): string {
  return `arn:aws:lambda:${region}:${accountId}:layer:${name}`;
}

export function layerVersionArn(region: string, accountId: string, name: string, version: number): string {
  return `${layerArn(region, accountId, name)}:${version}`;
}

export interface LayerRef {
  region: string;
  accountId: string;
  name: string;
}

/** A LayerName path parameter: a name (the caller's layer) or a layer ARN (maybe another account's). */
export function parseLayerName(value: string, callerAccount: string, region: string): LayerRef {
  if (!LAYER_NAME_PATTERN.test(value) || value.length > 140) {
    throw new StratusError('Validation', `1 validation error detected: Value '${value}' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${LAYER_NAME_PATTERN_TEXT}`);
  }
  if (!value.startsWith('arn:')) return { region, accountId: callerAccount, name: value };
  const parts = value.split(':');
  return { region: parts[3] ?? '', accountId: parts[4] ?? '', name: parts[6] ?? '' };
}

/** A layer version ARN's parts, or undefined if `arn` is not one. */
export function parseLayerVersionArn(arn: string): (LayerRef & { version: number }) | undefined {
  const m = LAYER_VERSION_ARN.exec(arn);
  if (!m || arn.length > 140) return undefined;
  return { region: m[1] ?? '', accountId: m[2] ?? '', name: m[3] ?? '', version: Number(m[4]) };
}
