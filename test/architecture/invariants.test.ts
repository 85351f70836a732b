import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { read, ROOT, sourceFiles } from './source.js';

const controlPlane = sourceFiles('src', ['.ts']).filter((f) => !f.endsWith('.test.ts') && !f.startsWith('src/runtimes/'));

/** Lines of `files` matching `pattern`, as "file: line". */
function occurrences(files: readonly string[], pattern: RegExp): string[] {
  return files.flatMap((f) => read(f).split('\n').filter((line) => pattern.test(line)).map((line) => `${f}: ${line.trim()}`));
}

test("every invariant in ARCHITECTURE.md names the tests that check it, and they exist", () => {
  const doc = read('ARCHITECTURE.md');
  const section = doc.split(/^## Invariants$/m)[1]?.split(/^## /m)[0] ?? '';
  const bullets = section.split(/^- /m).slice(1);
  assert.ok(bullets.length >= 10, 'the invariants were found');
  for (const bullet of bullets) {
    const checked = /Checked by\s+(.+?)\.?\s*$/s.exec(bullet.trim());
    assert.ok(checked, `no "Checked by" in: ${bullet.slice(0, 80)}…`);
    const paths = [...(checked[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
    assert.ok(paths.length > 0, `no test named in: ${bullet.slice(0, 80)}…`);
    for (const path of paths) assert.ok(existsSync(join(ROOT, path)), `${path} (named by an invariant) does not exist`);
  }
});

test('only the frontend maps error codes to Lambda wire errors', () => {
  const mapping = occurrences(controlPlane, /x-amzn-errortype/i).map((o) => o.split(':')[0]);
  assert.deepEqual([...new Set(mapping)], ['src/frontend/http/errors.ts']);
});

test("time comes from the injected Clock (real time only for gRPC deadlines, which etcd's client measures itself)", () => {
  const uses = occurrences(controlPlane, /Date\.now\(\)|new Date\(\)/).filter((o) => !/deadline/.test(o));
  assert.deepEqual(uses, ['src/shared/clock.ts: now: () => Date.now(),']);
});

test('nothing is global: no module-level mutable state in the control plane', () => {
  assert.deepEqual(occurrences(controlPlane, /^(let|var) /), []);
});
