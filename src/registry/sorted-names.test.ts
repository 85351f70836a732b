import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SortedNames } from './sorted-names.js';

/** ListFunctions' order and paging as they were before the index: sort everything, find the marker. */
function bruteForcePage(all: Set<string>, marker: string | undefined, max: number): { names: string[]; more: boolean } {
  const sorted = [...all].sort((a, b) => (a < b ? -1 : 1));
  const start = marker === undefined ? 0 : sorted.findIndex((n) => n > marker);
  if (start < 0) return { names: [], more: false };
  return { names: sorted.slice(start, start + max), more: start + max < sorted.length };
}

describe('SortedNames', () => {
  it('pages in code-unit order after a marker that may or may not be a name, ignoring repeated adds and absent deletes', () => {
    const names = new SortedNames();
    for (const n of ['b', 'B', 'a-1', 'a', 'Z', 'a_1', 'b', 'é', 'a0']) names.add(n);
    names.delete('nope');
    assert.equal(names.size, 8);
    assert.deepEqual(names.page(undefined, 3), { names: ['B', 'Z', 'a'], more: true });
    assert.deepEqual(names.page('a', 3), { names: ['a-1', 'a0', 'a_1'], more: true });
    assert.deepEqual(names.page('a5', 10), { names: ['a_1', 'b', 'é'], more: false });
    assert.deepEqual(names.page('é', 10), { names: [], more: false });
    names.delete('a0');
    assert.deepEqual(names.page('a-1', 1), { names: ['a_1'], more: true });
  });

  it('agrees with sorting everything, over random adds, deletes and pages', () => {
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const names = new SortedNames();
    const all = new Set<string>();
    for (let step = 0; step < 3000; step++) {
      const name = `f-${rand(400)}${rand(3) === 0 ? 'X' : ''}`;
      if (rand(4) === 0) {
        names.delete(name);
        all.delete(name);
      } else {
        names.add(name);
        all.add(name);
      }
      if (step % 50 === 0) {
        const marker = rand(5) === 0 ? undefined : `f-${rand(400)}`;
        const max = 1 + rand(60);
        assert.deepEqual(names.page(marker, max), bruteForcePage(all, marker, max), `step ${step}, marker ${marker}, max ${max}`);
      }
    }
    assert.equal(names.size, all.size);
  });
});
