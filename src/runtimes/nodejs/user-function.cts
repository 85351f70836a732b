/**
 * Loads the user's handler from `_HANDLER` ("[dir/]module.fn[.nested]") under
 * LAMBDA_TASK_ROOT, following the official runtime client (src/UserFunction.js):
 *   1. <path> exactly (extensionless file or directory) via require
 *   2. <path>.js via require, unless the nearest package.json says "type":"module"
 *   3. <path>.js via import() (type module), <path>.mjs via import(), <path>.cjs via require
 *   4. require.resolve(module) from the task root (node_modules, NODE_PATH)
 * SyntaxError → Runtime.UserCodeSyntaxError, MODULE_NOT_FOUND →
 * Runtime.ImportModuleError, missing export → Runtime.HandlerNotFound.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { HandlerNotFound, ImportModuleError, MalformedHandlerName, UserCodeSyntaxError } from './errors.cjs';

export type Handler = (event: unknown, context: unknown, callback: unknown) => unknown;

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;
/** The runtime's own require (CommonJS): user files are loaded by absolute path, packages from the task root. */
const runtimeRequire: NodeJS.Require = require;

/**
 * True if `err` says that `file` itself is an ES module require() cannot load
 * (ERR_REQUIRE_ESM, or ERR_REQUIRE_ASYNC_MODULE for top-level await), rather
 * than some module it requires.
 */
function isRequireOfEsm(err: unknown, file: string): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof message !== 'string') return false;
  const names = (prefix: string): boolean => {
    const at = message.indexOf(prefix + file);
    const next = message.charAt(at + prefix.length + file.length);
    return at >= 0 && (next === '' || /\s/.test(next));
  };
  if (code === 'ERR_REQUIRE_ESM') return names('ES Module ');
  return code === 'ERR_REQUIRE_ASYNC_MODULE' && names('Requiring ');
}

async function requireIfExists(file: string): Promise<unknown> {
  if (!existsSync(file)) return undefined;
  try {
    return runtimeRequire(file);
  } catch (err) {
    if (isRequireOfEsm(err, file)) return await importIfExists(file);
    throw err;
  }
}

async function importIfExists(file: string): Promise<unknown> {
  return existsSync(file) ? await import(pathToFileURL(file).href) : undefined;
}

/** True if the nearest package.json (stopping at node_modules) has "type": "module". */
function folderIsTypeModule(folder: string): boolean {
  for (let dir = folder; ; dir = path.dirname(dir)) {
    if (dir.endsWith('/node_modules')) return false;
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        return (JSON.parse(readFileSync(pj, 'utf8')) as { type?: unknown } | null)?.type === 'module';
      } catch (err) {
        console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, err);
        return false;
      }
    }
    if (dir === path.dirname(dir)) return false;
  }
}

async function tryLoad(appRoot: string, moduleRoot: string, module: string): Promise<unknown> {
  const base = path.resolve(appRoot, moduleRoot, module);
  const extensionless = await requireIfExists(base);
  if (extensionless) return extensionless;

  const typeModule = existsSync(base + '.js') && folderIsTypeModule(path.dirname(base));
  if (!typeModule) {
    const loaded = await requireIfExists(base + '.js');
    if (loaded) return loaded;
  }
  const loaded =
    (typeModule && (await importIfExists(base + '.js'))) ||
    (await importIfExists(base + '.mjs')) ||
    (await requireIfExists(base + '.cjs'));
  if (loaded) return loaded;

  // Package-style lookup (node_modules under the task root, NODE_PATH).
  const resolved = runtimeRequire.resolve(module, { paths: [appRoot, path.resolve(appRoot, moduleRoot)] });
  return runtimeRequire(resolved);
}

async function loadUserApp(appRoot: string, moduleRoot: string, module: string): Promise<unknown> {
  try {
    return await tryLoad(appRoot, moduleRoot, module);
  } catch (err) {
    if (err instanceof SyntaxError) throw new UserCodeSyntaxError(err);
    if ((err as { code?: unknown } | null)?.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(err);
    throw err;
  }
}

function resolveNested(object: unknown, nested: string): unknown {
  return nested.split('.').reduce<unknown>((obj, key) => {
    if (obj === null || obj === undefined) return undefined;
    return (obj as Record<string, unknown>)[key];
  }, object);
}

/** Load and return the handler function, or throw a Runtime.* error. */
export async function loadHandler(appRoot: string, fullHandler: string): Promise<Handler> {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const moduleAndHandler = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.lastIndexOf(moduleAndHandler));
  const match = FUNCTION_EXPR.exec(moduleAndHandler);
  if (!match || match[1] === undefined || match[2] === undefined) throw new MalformedHandlerName('Bad handler');

  const app = await loadUserApp(appRoot, moduleRoot, match[1]);
  const fn = resolveNested(app, match[2]);
  if (!fn) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return fn as Handler;
}

/** Handler metadata used when the event loop drains without a completion. */
export function isAsyncFunction(fn: Handler): boolean {
  try {
    return fn.constructor?.name === 'AsyncFunction';
  } catch {
    return false;
  }
}
