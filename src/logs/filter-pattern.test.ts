import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StratusError } from '../shared/errors.js';
import { parseFilterPattern } from './filter-pattern.js';
import { wildcardMatch } from './pattern-text.js';
import { splitMessage } from './filter-space.js';

const matches = (pattern: string, message: string) => parseFilterPattern(pattern).matches(message);

function refused(pattern: string, message: RegExp): void {
  assert.throws(() => parseFilterPattern(pattern), (err: unknown) => err instanceof StratusError && err.code === 'InvalidParameterValue' && message.test(err.message));
}

describe('unstructured filter patterns', () => {
  test('every term, any of the ? terms, none of the - terms; case sensitive', () => {
    assert.equal(matches('ERROR', '[ERROR 400] BAD REQUEST'), true);
    assert.equal(matches('ERROR', 'error: lower case'), false);
    assert.equal(matches('ERROR Exception', 'ERROR without it'), false);
    assert.equal(matches('ERROR Exception', 'ERROR: NullPointerException'), true);
    assert.equal(matches('?ERROR ?WARN', 'WARN disk'), true);
    assert.equal(matches('?ERROR ?WARN', 'INFO fine'), false);
    assert.equal(matches('ERROR -Exiting', 'ERROR: Exiting now'), false);
    assert.equal(matches('ERROR -Exiting', 'ERROR: carrying on'), true);
    assert.equal(matches('', 'anything'), true);
  });

  test('quoted phrases match exactly, with escapes', () => {
    assert.equal(matches('"Internal Server Error"', 'HTTP 500 Internal Server Error'), true);
    assert.equal(matches('"Internal Server Error"', 'Internal  Server Error'), false);
    assert.equal(matches('"say \\"hi\\""', 'they say "hi" twice'), true);
    assert.equal(matches('-"a:b" ok', 'ok a:b'), false);
  });

  test("a term with characters other than letters, digits and _ must be quoted (CloudWatch's error)", () => {
    refused('a:b', /^Invalid character\(s\) in term ':'$/);
    refused('(x)', /^Invalid character\(s\) in term '\('$/);
    refused('"unterminated', /unterminated/);
    refused('%regex%', /not supported/);
  });
});

describe('JSON filter patterns', () => {
  const event = JSON.stringify({ a: { b: 'xylophone' }, n: 7, c: 1, ok: true, nothing: null, list: [{ id: 2 }, 'two'], ip: '10.0.3.4' });

  test('selectors, strings with wildcards, numbers, && || and parentheses', () => {
    assert.equal(matches('{ $.a.b = "x*" && ($.n >= 5 || $.c != 1) }', event), true);
    assert.equal(matches('{ $.a.b = "y*" && ($.n >= 5 || $.c != 1) }', event), false);
    assert.equal(matches('{ $.a.b = "x*" && ($.n >= 8 || $.c != 1) }', event), false);
    assert.equal(matches('{ $.a.b = "x*" && ($.n >= 8 || $.c != 2) }', event), true);
    assert.equal(matches('{ $.n = 7 }', event), true);
    assert.equal(matches('{ $.n < 7 }', event), false);
    assert.equal(matches('{ $.ip = 10.0.* }', event), true);
    assert.equal(matches('{ $.ip != 10.0.* }', event), false);
    assert.equal(matches('{ $.a.b = *lop* }', event), true);
  });

  test('IS TRUE / FALSE / NULL, EXISTS / NOT EXISTS, array indexes', () => {
    assert.equal(matches('{ $.ok IS TRUE }', event), true);
    assert.equal(matches('{ $.ok IS FALSE }', event), false);
    assert.equal(matches('{ $.nothing IS NULL }', event), true);
    assert.equal(matches('{ $.missing NOT EXISTS }', event), true);
    assert.equal(matches('{ $.a NOT EXISTS }', event), false);
    assert.equal(matches('{ $.a.b EXISTS }', event), true);
    assert.equal(matches('{ $.list[0].id = 2 }', event), true);
    assert.equal(matches('{ $.list[1] = "two" }', event), true);
    assert.equal(matches('{ $.list[2] EXISTS }', event), false);
  });

  test('a message that is not a JSON object matches no JSON pattern', () => {
    assert.equal(matches('{ $.n = 7 }', 'n = 7'), false);
    assert.equal(matches('{ $.n = 7 }', '{"n": 7'), false);
  });

  test('malformed patterns are refused', () => {
    refused('{ $.a = "x" ', /expected '}'/);
    refused('{ a = "x" }', /selector starts with \$/);
    refused('{ $.a > "x" }', /compares numbers only/);
    refused('{ $.a IS MAYBE }', /TRUE, FALSE or NULL/);
    refused('{ $.a = "x" } trailing', /after the closing brace/);
    refused(`{ ${'('.repeat(100)}$.a = 1${')'.repeat(100)} }`, /too deeply nested/);
  });
});

describe('space-delimited filter patterns', () => {
  const line = '127.0.0.1 frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 404 1534';

  test('fields, ellipsis and conditions', () => {
    assert.deepEqual(splitMessage(line), ['127.0.0.1', 'frank', '10/Oct/2000:13:25:15 -0700', 'GET /apache_pb.gif HTTP/1.0', '404', '1534']);
    assert.equal(matches('[ip, user, timestamp, request, status_code = 4*, size]', line), true);
    assert.equal(matches('[ip, user, ..., status_code = 4*, size]', line), true);
    assert.equal(matches('[ip, user, ..., status_code = 5*, size]', line), false);
    assert.equal(matches('[ip, user = frank, ..., size > 1000]', line), true);
    assert.equal(matches('[ip, user, ..., status = 500 || status = 404, size]', line), true);
    assert.equal(matches('[ip, user]', line), false);
    assert.equal(matches('[..., size < 1000]', line), false);
  });
});

describe('matching is linear: hostile patterns and messages cannot make it backtrack', () => {
  test('many wildcards against a long run of the same character', () => {
    const glob = `${'*a'.repeat(400)}*b`;
    const text = 'a'.repeat(200_000);
    assert.equal(wildcardMatch(glob, text), false);
    assert.equal(wildcardMatch(glob, `${text}b`), true);
    assert.equal(matches(`{ $.m = "${glob}" }`, JSON.stringify({ m: text })), false);
  });

  test('unclosed brackets: each one is a field of its own, and the rest is not searched again for a closing one', () => {
    const message = `${'[ '.repeat(300_000)}"a b" [c d`;
    const fields = splitMessage(message);
    assert.equal(fields.length, 300_003);
    assert.deepEqual([fields[0], fields.at(-3), fields.at(-2), fields.at(-1)], ['[', 'a b', '[c', 'd']);
    assert.equal(matches('[a, b = x, ...]', message), false);
  });

  test('many ellipses against many fields', () => {
    const pattern = `[${Array.from({ length: 100 }, () => '...').join(', ')}, last = b]`;
    assert.ok(pattern.length <= 1024);
    const message = 'a '.repeat(100_000);
    assert.equal(matches(pattern, message), false);
    assert.equal(matches(pattern, `${message}b`), true);
  });
});
