import assert from 'node:assert/strict';
import { test } from 'node:test';
import { read, sourceFiles } from './source.js';

const LIMIT = 400;

test(`no source file is over ${LIMIT} lines`, () => {
  const files = ['src', 'test', 'bench', 'native', 'scripts'].flatMap((dir) => sourceFiles(dir, ['.ts', '.mts', '.cts', '.js', '.py', '.c', '.sh']));
  assert.ok(files.length > 100, 'the sources were found');
  const over = files.map((f) => [f, read(f).split('\n').length - 1] as const).filter(([, lines]) => lines > LIMIT);
  assert.deepEqual(over.map(([f, n]) => `${f}: ${n} lines`), []);
});
