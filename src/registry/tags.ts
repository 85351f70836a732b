import { StratusError } from '../shared/errors.js';

const MAX_TAGS = 50;

type Tags = Record<string, string>;

/** TagResource's result: `current` merged with `added`, or undefined if nothing changes. */
export function mergeTags(current: Tags, added: Tags): Tags | undefined {
  const merged = { ...current, ...added };
  checkTagCount(merged);
  return Object.entries(added).every(([k, v]) => current[k] === v) ? undefined : merged;
}

/** UntagResource's result (keys that are not there are ignored), or undefined if nothing changes. */
export function removeTags(current: Tags, keys: readonly string[]): Tags | undefined {
  const rest = { ...current };
  const before = Object.keys(rest).length;
  for (const key of keys) delete rest[key];
  return Object.keys(rest).length === before ? undefined : rest;
}

/** At most 50 tags per function. */
export function checkTagCount(tags: Tags): void {
  if (Object.keys(tags).length > MAX_TAGS) throw new StratusError('InvalidParameterValue', 'Number of tags exceeds resource tag limit.');
}
