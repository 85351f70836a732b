import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root (the compiled tests run from dist/, the checks read the sources). */
export const ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

const SKIP = new Set(['node_modules', 'dist', '.cache', '.git', '__pycache__', 'work', 'results']);

/** Files under `dir` (relative to the root) whose names end with one of `exts`. */
export function sourceFiles(dir: string, exts: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      if (SKIP.has(entry.name)) continue;
      const path = join(abs, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (exts.some((e) => entry.name.endsWith(e))) out.push(relative(ROOT, path));
    }
  };
  if (existsSync(join(ROOT, dir))) walk(join(ROOT, dir));
  return out.sort();
}

export function read(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** The module specifiers a TypeScript file imports or re-exports (static and dynamic). */
export function importsOf(path: string): string[] {
  const text = read(path);
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)) if (m[1]) specs.push(m[1]);
  return specs;
}

/** The top-level folder of src/ a repository path belongs to ('' outside src/). */
export function component(path: string): string {
  const parts = path.split(sep);
  return parts[0] === 'src' && parts.length > 2 ? (parts[1] ?? '') : '';
}

/** The repository path an import of `spec` from `from` resolves to (undefined for packages). */
export function resolveImport(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return relative(ROOT, resolve(ROOT, dirname(from), spec));
}
