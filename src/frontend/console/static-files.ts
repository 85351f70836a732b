import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The console's page: plain HTML, CSS and JavaScript in the repository (`static/` beside this
 * file's source; tsc copies no such files, so the built server reads them from `src/`), and
 * uPlot from node_modules. Read once at start: only these names are ever served.
 */
const STATIC_DIR = fileURLToPath(new URL('../../../../src/frontend/console/static/', import.meta.url));
const PAGES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'views.js': 'text/javascript; charset=utf-8',
  'charts.js': 'text/javascript; charset=utf-8',
};

export interface StaticFile {
  body: Buffer;
  contentType: string;
}

export function loadConsoleFiles(): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const [name, contentType] of Object.entries(PAGES)) files.set(name, { body: readFileSync(`${STATIC_DIR}${name}`), contentType });
  const require = createRequire(import.meta.url);
  files.set('vendor/uPlot.iife.min.js', { body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')), contentType: 'text/javascript; charset=utf-8' });
  files.set('vendor/uPlot.min.css', { body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')), contentType: 'text/css; charset=utf-8' });
  return files;
}
