import { invalidParameter } from './params.js';
import { COMPARISONS, readQuoted, tokenize, valueTest, type FilterPattern, type ValueToken } from './pattern-text.js';

/**
 * Space-delimited filter patterns: `[ip, user, ..., status = 4*, size > 1000]`. A message is
 * split into fields at spaces (a field in "double quotes" or [brackets] is one field); each name
 * stands for one field, `...` for any number, and a field may carry conditions joined by `&&`
 * or `||`. Several `...` are matched by stepping the set of reachable pattern positions field by
 * field (no backtracking): time proportional to fields times pattern items.
 */
type FieldTest = (field: string) => boolean;
type Item = { kind: 'ellipsis' } | { kind: 'field'; test: FieldTest };

export function parseSpacePattern(text: string): FilterPattern {
  if (!text.endsWith(']')) throw invalidParameter("Invalid filter pattern: a space-delimited pattern ends with ']'");
  const body = text.slice(1, -1);
  const items = splitTopLevel(body).map(parseItem);
  if (items.length === 0) throw invalidParameter('Invalid filter pattern: no fields between [ and ]');
  return { cost: items.length, matches: (message) => matchFields(items, splitMessage(message)) };
}

/** The pattern's items, at commas outside quotes. */
function splitTopLevel(body: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '"') {
      const read = readQuoted(body, i);
      current += body.slice(i, read.end);
      i = read.end - 1;
    } else if (c === ',') {
      out.push(current.trim());
      current = '';
    } else {
      current += c;
    }
  }
  out.push(current.trim());
  return out;
}

function parseItem(text: string): Item {
  if (text === '...') return { kind: 'ellipsis' };
  if (text === '') throw invalidParameter('Invalid filter pattern: empty field in a space-delimited pattern');
  const name = /^[A-Za-z_][A-Za-z0-9_\-]*/.exec(text)?.[0];
  if (name === undefined) throw invalidParameter(`Invalid character(s) in term '${text[0] ?? ''}'`);
  if (text.trim() === name) return { kind: 'field', test: () => true };
  return { kind: 'field', test: parseConditions(text, name) };
}

const OPS = ['&&', '||', '!=', '<=', '>=', '=', '<', '>'];
/** Where a bare word ends in a condition (besides white space and quotes). */
const WORD_END = /[=!<>&|]/;

/** `name op value ((&& | ||) name op value)*`, with && binding tighter than ||. */
function parseConditions(text: string, name: string): FieldTest {
  const tokens = tokenize(text, OPS, WORD_END);
  let pos = 0;
  const condition = (): FieldTest => {
    const [field, op, value] = [tokens[pos], tokens[pos + 1], tokens[pos + 2]];
    if (field?.kind !== 'word' || field.value !== name) throw invalidParameter(`Invalid filter pattern: conditions of field ${name} must name it`);
    if (op?.kind !== 'op' || !COMPARISONS.includes(op.value)) throw invalidParameter(`Invalid filter pattern: expected a comparison after ${name}`);
    if (value === undefined || value.kind === 'op') throw invalidParameter(`Invalid filter pattern: expected a value after ${name} ${op.value}`);
    pos += 3;
    return valueTest(op.value, value as ValueToken, true);
  };
  const alternatives: FieldTest[][] = [[condition()]];
  while (pos < tokens.length) {
    const join = tokens[pos++];
    if (join?.kind !== 'op' || (join.value !== '&&' && join.value !== '||')) throw invalidParameter(`Invalid filter pattern: expected && or || in field ${name}`);
    if (join.value === '||') alternatives.push([]);
    (alternatives[alternatives.length - 1] as FieldTest[]).push(condition());
  }
  return (field) => alternatives.some((all) => all.every((t) => t(field)));
}

/**
 * A message's fields: split at spaces, a "quoted" or [bracketed] run being one field (without its
 * delimiters). Linear: once a closing character is known to be absent from the rest of the
 * message, it is not searched for again.
 */
export function splitMessage(message: string): string[] {
  const fields: string[] = [];
  /** Past this index there is no such closing character (-1: not searched yet). */
  const absentFrom = new Map<string, number>();
  let i = 0;
  while (i < message.length) {
    const c = message[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const close = c === '"' ? '"' : c === '[' ? ']' : undefined;
    let end = -1;
    if (close !== undefined && !(i + 1 >= (absentFrom.get(close) ?? Infinity))) {
      end = message.indexOf(close, i + 1);
      if (end < 0) absentFrom.set(close, i + 1);
    }
    if (close !== undefined && end >= 0) {
      fields.push(message.slice(i + 1, end));
      i = end + 1;
    } else {
      const stop = scanTo(message, i, /[ \t\r\n]/);
      fields.push(message.slice(i, stop));
      i = stop;
    }
  }
  return fields;
}

function scanTo(text: string, from: number, stop: RegExp): number {
  let i = from;
  while (i < text.length && !stop.test(text[i] as string)) i++;
  return i;
}

/** Whether the fields match the items: the reachable pattern positions, advanced field by field (O(items) per field). */
function matchFields(items: Item[], fields: string[]): boolean {
  let reach = new Uint8Array(items.length + 1);
  reach[0] = 1;
  close(items, reach);
  for (const field of fields) {
    const next = new Uint8Array(items.length + 1);
    let any = false;
    for (let j = 0; j < items.length; j++) {
      const item = items[j] as Item;
      if (!reach[j]) continue;
      if (item.kind === 'ellipsis') next[j] = 1;
      else if (item.test(field)) next[j + 1] = 1;
      else continue;
      any = true;
    }
    if (!any) return false;
    reach = close(items, next);
  }
  return reach[items.length] === 1;
}

/** Adds the positions reachable without consuming a field (an ellipsis may match none), in one pass. */
function close(items: Item[], reach: Uint8Array): Uint8Array {
  for (let j = 0; j < items.length; j++) if (reach[j] && items[j]?.kind === 'ellipsis') reach[j + 1] = 1;
  return reach;
}
