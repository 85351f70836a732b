import { invalidParameter } from './params.js';
import { readQuoted, type FilterPattern } from './pattern-text.js';
import { parseJsonPattern } from './filter-json.js';
import { parseSpacePattern } from './filter-space.js';

export type { FilterPattern } from './pattern-text.js';

/** Patterns are at most 1,024 characters (FilterLogEvents' limit). */
export const MAX_PATTERN_LENGTH = 1024;

const MATCH_ALL: FilterPattern = { matches: () => true, cost: 1 };

/** Parses a filter pattern; InvalidParameterException (CloudWatch's words where known) if it is not one. */
export function parseFilterPattern(text: string): FilterPattern {
  const pattern = text.trim();
  if (pattern === '') return MATCH_ALL;
  if (pattern.startsWith('{')) return parseJsonPattern(pattern);
  if (pattern.startsWith('[')) return parseSpacePattern(pattern);
  if (pattern.startsWith('%')) throw invalidParameter('Regular expression filter patterns (%...%) are not supported by Stratus.');
  return parseTerms(pattern);
}

interface Term {
  text: string;
  kind: 'required' | 'optional' | 'excluded';
}

/** Characters a term may have without double quotes. */
const BARE = /[A-Za-z0-9_.\-]/;

/**
 * Unstructured patterns: `ERROR Exception` (every term), `?ERROR ?WARN` (any of these),
 * `-DEBUG` (none of these), `"quoted phrases"`; case sensitive, as CloudWatch matches them.
 */
function parseTerms(pattern: string): FilterPattern {
  const terms: Term[] = [];
  let i = 0;
  while (i < pattern.length) {
    if (/\s/.test(pattern[i] as string)) {
      i++;
      continue;
    }
    let kind: Term['kind'] = 'required';
    if (pattern[i] === '?' || pattern[i] === '-') {
      kind = pattern[i] === '?' ? 'optional' : 'excluded';
      i++;
    }
    const read = pattern[i] === '"' ? readQuoted(pattern, i) : readBare(pattern, i);
    terms.push({ text: read.text, kind });
    i = read.end;
    if (i < pattern.length && !/\s/.test(pattern[i] as string)) throw invalidParameter(`Invalid character(s) in term '${pattern[i]}'`);
  }
  const required = terms.filter((t) => t.kind === 'required').map((t) => t.text);
  const optional = terms.filter((t) => t.kind === 'optional').map((t) => t.text);
  const excluded = terms.filter((t) => t.kind === 'excluded').map((t) => t.text);
  return {
    cost: Math.max(1, terms.length),
    matches: (message) => required.every((t) => message.includes(t))
      && !excluded.some((t) => message.includes(t))
      && (optional.length === 0 || optional.some((t) => message.includes(t))),
  };
}

function readBare(pattern: string, start: number): { text: string; end: number } {
  let end = start;
  while (end < pattern.length && BARE.test(pattern[end] as string)) end++;
  if (end === start) throw invalidParameter(`Invalid character(s) in term '${pattern[start] ?? ''}'`);
  return { text: pattern.slice(start, end), end };
}
