import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forTerminal } from './terminal.js';

test('a terminal gets no control characters from tenant text; a pipe gets the text as it is', () => {
  const hostile = 'ok\u001b]52;c;ZXZpbA==\u0007 title\u001b[2J\u009b31m\ttab\nline';
  assert.equal(forTerminal(hostile, true), 'ok?]52;c;ZXZpbA==? title?[2J?31m\ttab\nline');
  assert.equal(forTerminal(hostile, false), hostile);
});
