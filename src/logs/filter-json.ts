import { invalidParameter } from './params.js';
import { COMPARISONS, tokenize, valueTest, type FilterPattern, type PatternToken } from './pattern-text.js';

/**
 * JSON filter patterns: `{ $.a.b = "x*" && ($.n >= 5 || $.c != 1) }`, `{ $.list[0].id = 2 }`,
 * `{ $.flag IS TRUE }` (FALSE, NULL), `{ $.key NOT EXISTS }` (EXISTS). A message matches only
 * if it is a JSON object; it is parsed once, and each condition walks its selector through it.
 */
type Token = PatternToken;

type Test = (doc: unknown) => boolean;
type Step = { key: string } | { index: number };

const PUNCT = ['&&', '||', '!=', '<=', '>=', '{', '}', '(', ')', '=', '<', '>'];
/** Where a bare word ends (besides white space and quotes). */
const WORD_END = /[{}()=!<>&|]/;
/** Deeper nesting than this is refused (each level is a stack frame of the parser). */
const MAX_DEPTH = 64;

export function parseJsonPattern(text: string): FilterPattern {
  const parser = new JsonPatternParser(tokenize(text, PUNCT, WORD_END));
  const test = parser.pattern();
  const cost = Math.max(1, parser.conditions);
  return {
    cost,
    matches: (message) => {
      const doc = parseObject(message);
      return doc !== undefined && test(doc);
    },
  };
}

function parseObject(message: string): unknown {
  const trimmed = message.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return undefined;
  }
}

class JsonPatternParser {
  private pos = 0;
  conditions = 0;

  constructor(private readonly tokens: Token[]) {}

  pattern(): Test {
    this.expect('{');
    const test = this.or(0);
    this.expect('}');
    if (this.pos < this.tokens.length) throw invalidParameter('Invalid filter pattern: unexpected text after the closing brace');
    return test;
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private isPunct(value: string): boolean {
    const t = this.peek();
    return t?.kind === 'op' && t.value === value;
  }

  private expect(value: string): void {
    if (!this.isPunct(value)) throw invalidParameter(`Invalid filter pattern: expected '${value}'`);
    this.pos++;
  }

  private or(depth: number): Test {
    const items = [this.and(depth)];
    while (this.isPunct('||')) {
      this.pos++;
      items.push(this.and(depth));
    }
    return items.length === 1 ? (items[0] as Test) : (doc) => items.some((t) => t(doc));
  }

  private and(depth: number): Test {
    const items = [this.unary(depth)];
    while (this.isPunct('&&')) {
      this.pos++;
      items.push(this.unary(depth));
    }
    return items.length === 1 ? (items[0] as Test) : (doc) => items.every((t) => t(doc));
  }

  private unary(depth: number): Test {
    if (!this.isPunct('(')) return this.condition();
    if (depth >= MAX_DEPTH) throw invalidParameter('Invalid filter pattern: too deeply nested');
    this.pos++;
    const inner = this.or(depth + 1);
    this.expect(')');
    return inner;
  }

  private word(): string | undefined {
    const t = this.peek();
    if (t?.kind !== 'word') return undefined;
    this.pos++;
    return t.value;
  }

  private condition(): Test {
    const selectorText = this.word();
    if (selectorText === undefined) throw invalidParameter('Invalid filter pattern: expected a selector such as $.field');
    const steps = parseSelector(selectorText);
    this.conditions++;
    const select = (doc: unknown) => selectIn(doc, steps);
    const keyword = this.peek()?.kind === 'word' ? (this.peek()?.value ?? '').toUpperCase() : undefined;
    if (keyword === 'IS') {
      this.pos++;
      const what = (this.word() ?? '').toUpperCase();
      const expected = what === 'TRUE' ? true : what === 'FALSE' ? false : what === 'NULL' ? null : undefined;
      if (expected === undefined) throw invalidParameter('Invalid filter pattern: IS must be followed by TRUE, FALSE or NULL');
      return (doc) => select(doc) === expected;
    }
    if (keyword === 'EXISTS') {
      this.pos++;
      return (doc) => select(doc) !== undefined;
    }
    if (keyword === 'NOT') {
      this.pos++;
      if ((this.word() ?? '').toUpperCase() !== 'EXISTS') throw invalidParameter('Invalid filter pattern: NOT must be followed by EXISTS');
      return (doc) => select(doc) === undefined;
    }
    const op = this.peek();
    if (op?.kind !== 'op' || !COMPARISONS.includes(op.value)) throw invalidParameter(`Invalid filter pattern: expected a comparison after ${selectorText}`);
    this.pos++;
    const value = this.peek();
    if (value === undefined || value.kind === 'op') throw invalidParameter(`Invalid filter pattern: expected a value after ${selectorText} ${op.value}`);
    this.pos++;
    const test = valueTest(op.value, value, false);
    return (doc) => test(select(doc));
  }
}

/** `$.a.b[0].c` into steps; the selector's characters are CloudWatch's. */
function parseSelector(text: string): Step[] {
  if (!text.startsWith('$')) throw invalidParameter(`Invalid filter pattern: a selector starts with $, not '${text}'`);
  const steps: Step[] = [];
  let i = 1;
  while (i < text.length) {
    const c = text[i];
    let m: RegExpExecArray | null;
    if (c === '.' && (m = /^[A-Za-z0-9_\-@$]+/.exec(text.slice(i + 1)))) {
      steps.push({ key: m[0] });
      i += 1 + m[0].length;
    } else if (c === '[' && (m = /^\[(\d{1,9})\]/.exec(text.slice(i)))) {
      steps.push({ index: Number(m[1]) });
      i += m[0].length;
    } else {
      throw invalidParameter(`Invalid character(s) in term '${text.slice(0, i + 1)}'`);
    }
  }
  return steps;
}

function selectIn(doc: unknown, steps: Step[]): unknown {
  let v = doc;
  for (const step of steps) {
    if ('key' in step) {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, step.key)) return undefined;
      v = (v as Record<string, unknown>)[step.key];
    } else {
      if (!Array.isArray(v) || step.index >= v.length) return undefined;
      v = v[step.index] as unknown;
    }
  }
  return v;
}
