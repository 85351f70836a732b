import { invalidParameter } from './params.js';

/**
 * CloudWatch Logs filter patterns (FilterLogEvents' `filterPattern`), parsed by hand into a
 * matcher. Matching never builds a regular expression from the pattern: terms are substring
 * searches, wildcards are matched segment by segment, JSON selectors walk the parsed message
 * once, so a message is matched in time linear in its length times the pattern's size, whatever
 * the pattern. `cost` is that size (at least 1), for callers that budget their scans.
 */
export interface FilterPattern {
  matches(message: string): boolean;
  cost: number;
}

/** The lexical pieces the filter pattern parsers share. */
export interface ValueToken {
  kind: 'string' | 'word';
  value: string;
}

/** A pattern's operator, quoted string or bare word. */
export type PatternToken = ValueToken | { kind: 'op'; value: string };

/**
 * A pattern's tokens: `operators` (longest first where one is a prefix of another), "quoted"
 * strings, and bare words, which end at white space, a quote or any of `wordEnd`.
 */
export function tokenize(text: string, operators: readonly string[], wordEnd: RegExp): PatternToken[] {
  const tokens: PatternToken[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"') {
      const read = readQuoted(text, i);
      tokens.push({ kind: 'string', value: read.text });
      i = read.end;
      continue;
    }
    const op = operators.find((o) => text.startsWith(o, i));
    if (op) {
      tokens.push({ kind: 'op', value: op });
      i += op.length;
      continue;
    }
    let end = i;
    while (end < text.length && !/[\s"]/.test(text[end] as string) && !wordEnd.test(text[end] as string)) end++;
    if (end === i) throw invalidParameter(`Invalid character(s) in term '${c}'`);
    tokens.push({ kind: 'word', value: text.slice(i, end) });
    i = end;
  }
  return tokens;
}

const NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;
export const COMPARISONS: readonly string[] = ['=', '!=', '<', '<=', '>', '>='];

/** A double-quoted string starting at `start` (backslash escapes the next character). */
export function readQuoted(pattern: string, start: number): { text: string; end: number } {
  let text = '';
  for (let i = start + 1; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '"') return { text, end: i + 1 };
    if (c === '\\' && i + 1 < pattern.length) {
      text += pattern[++i];
      continue;
    }
    text += c;
  }
  throw invalidParameter('Invalid filter pattern: unterminated quoted string');
}

/**
 * Whether `text` matches `pattern`, where `*` stands for any run of characters. Segments are
 * found left to right with plain substring searches (the leftmost match of each is always a
 * good choice for `*`-only wildcards), so no backtracking, whatever the number of `*`.
 */
export function wildcardMatch(pattern: string, text: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === text;
  const first = parts[0] as string;
  const last = parts[parts.length - 1] as string;
  if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last)) return false;
  const end = text.length - last.length;
  let pos = first.length;
  for (const part of parts.slice(1, -1)) {
    if (part === '') continue;
    const at = text.indexOf(part, pos);
    if (at < 0 || at + part.length > end) return false;
    pos = at + part.length;
  }
  return true;
}

/**
 * The test of one comparison (`op value`) on a selected value: a bare number compares numbers
 * (`textNumbers`: also a string that is a number, as space-delimited fields are), anything else
 * is a string with `*` wildcards and only `=` or `!=`.
 */
export function valueTest(op: string, value: ValueToken, textNumbers: boolean): (v: unknown) => boolean {
  if (value.kind === 'word' && NUMBER.test(value.value)) {
    const n = Number(value.value);
    const compare = numberComparison(op, n);
    return (v) => {
      const x = typeof v === 'number' ? v : textNumbers && typeof v === 'string' && NUMBER.test(v) ? Number(v) : undefined;
      return x !== undefined && compare(x);
    };
  }
  if (op !== '=' && op !== '!=') throw invalidParameter(`Invalid filter pattern: ${op} compares numbers only`);
  const glob = value.value;
  return (v) => {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return false;
    return wildcardMatch(glob, String(v)) === (op === '=');
  };
}

function numberComparison(op: string, n: number): (v: number) => boolean {
  switch (op) {
    case '=': return (v) => v === n;
    case '!=': return (v) => v !== n;
    case '<': return (v) => v < n;
    case '<=': return (v) => v <= n;
    case '>': return (v) => v > n;
    default: return (v) => v >= n;
  }
}
