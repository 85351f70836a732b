import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtinModules } from 'node:module';
import { dirname } from 'node:path';
import { component, importsOf, resolveImport, sourceFiles } from './source.js';

/**
 * The layering of ARCHITECTURE.md: which components each component may import. Anything not
 * listed is an upward or sideways reach; cli/ wires everything and may import all of them.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  shared: [],
  journal: ['shared'],
  codestore: ['shared'],
  images: ['codestore', 'shared'],
  sandbox: ['shared'],
  accounts: ['journal', 'shared'],
  registry: ['journal', 'codestore', 'shared'],
  layers: ['journal', 'codestore', 'shared'],
  worker: ['sandbox', 'codestore', 'images', 'shared'],
  placement: ['worker', 'codestore', 'journal', 'shared'],
  assignment: ['placement', 'worker', 'registry', 'journal', 'shared'],
  snapstart: ['assignment', 'worker', 'registry', 'codestore', 'shared'],
  async: ['registry', 'worker', 'journal', 'shared'],
  logs: ['worker', 'journal', 'shared'],
  scheduler: ['async', 'journal', 'shared'],
  collector: ['registry', 'layers', 'codestore', 'journal', 'shared'],
  frontend: ['accounts', 'layers', 'async', 'logs', 'scheduler', 'snapstart', 'assignment', 'placement', 'registry', 'worker', 'images', 'codestore', 'journal', 'shared'],
  runtimes: [],
};

const files = sourceFiles('src', ['.ts', '.mts', '.cts']).filter((f) => !/\.test\.[mc]?ts$/.test(f));

/** Cross-component edges: [from file, imported file, from component, to component]. */
function crossings(): [string, string, string, string][] {
  const out: [string, string, string, string][] = [];
  for (const file of files) {
    for (const spec of importsOf(file)) {
      const target = resolveImport(file, spec);
      if (!target) continue;
      const from = component(file);
      const to = component(target);
      if (to !== from) out.push([file, target, from, to]);
    }
  }
  return out;
}

test('every component is in the layering table, and cli imports nothing upward of it', () => {
  const components = new Set(files.map(component));
  components.delete('cli');
  assert.deepEqual([...components].filter((c) => !(c in MAY_IMPORT)), []);
  for (const [file, target, from, to] of crossings()) {
    if (from === 'cli') continue;
    assert.ok(to !== 'cli', `${file} imports ${target}: nothing imports cli/`);
  }
});

test('components import only what the layering allows (no upward or sideways imports, so no cycles)', () => {
  const bad = crossings().filter(([, , from, to]) => from !== 'cli' && to !== '' && !(MAY_IMPORT[from] ?? []).includes(to));
  assert.deepEqual(bad.map(([file, target]) => `${file} -> ${target}`), []);
});

test('a folder with an index.ts (a component, or a part of one) is reached from outside only through it', () => {
  const indexed = new Set(files.filter((f) => /\/index\.ts$/.test(f)).map((f) => dirname(f)));
  const bad: string[] = [];
  for (const file of files) {
    for (const spec of importsOf(file)) {
      const target = resolveImport(file, spec);
      if (!target) continue;
      // The outermost indexed folder holding the target but not the importer: its index is the way in.
      for (let dir = dirname(target); dir !== '.' && dir !== 'src'; dir = dirname(dir)) {
        const outside = !`${file}`.startsWith(`${dir}/`);
        if (outside && indexed.has(dir) && target.replace(/\.js$/, '') !== `${dir}/index`) bad.push(`${file} -> ${target}`);
        if (!outside) break;
      }
    }
  }
  assert.deepEqual(bad, []);
});

test('the worker does not know the registry: it is given an EnvironmentSpec', () => {
  const bad = crossings().filter(([, , from, to]) => from === 'worker' && to === 'registry');
  assert.deepEqual(bad.map(([file, target]) => `${file} -> ${target}`), []);
});

test('code that runs inside a sandbox imports only its own folder and its language built-ins', () => {
  const builtins = new Set(builtinModules);
  for (const file of files.filter((f) => component(f) === 'runtimes' && !f.includes('/testing/'))) {
    for (const spec of importsOf(file)) {
      const target = resolveImport(file, spec);
      if (target) assert.equal(component(target), 'runtimes', `${file} imports ${spec}`);
      else assert.ok(spec.startsWith('node:') || builtins.has(spec), `${file} imports the package ${spec}`);
    }
  }
});

test('no import cycle between modules', () => {
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const key = file.replace(/\.([mc]?)ts$/, '.$1');
    edges.set(key, importsOf(file).flatMap((spec) => {
      const target = resolveImport(file, spec);
      return target ? [target.replace(/\.([mc]?)js$/, '.$1')] : [];
    }));
  }
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (node: string, path: string[]) => {
    if (state.get(node) === 'done') return;
    if (state.get(node) === 'open') return void cycles.push([...path.slice(path.indexOf(node)), node].join(' -> '));
    state.set(node, 'open');
    for (const next of edges.get(node) ?? []) if (edges.has(next)) visit(next, [...path, node]);
    state.set(node, 'done');
  };
  for (const node of edges.keys()) visit(node, []);
  assert.deepEqual(cycles, []);
});
