/**
 * Two views of what a restarted server holds: the API's (list, get, download, invoke, through
 * the AWS SDK) and the store's (the SQLite journal's documents, read-only, and the code blobs).
 * Disagreements found on the way (a listed version that does not resolve, a download whose
 * digest is not the one GetFunction gives) are collected as problems.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  GetFunctionCommand, GetLayerVersionCommand, InvokeCommand, ListAliasesCommand, ListFunctionsCommand, ListLayerVersionsCommand,
  ListLayersCommand, ListVersionsByFunctionCommand, type LambdaClient,
} from '@aws-sdk/client-lambda';
import Database from 'better-sqlite3';
import type { FunctionState, LayerState, VersionState } from './model.js';

export const ACCOUNT = '000000000000';

export interface CheckOptions {
  invoke: boolean;
  /** The tag of the code package of this CodeSha256. */
  tagOf: (sha: string) => string | undefined;
  /** The content of a layer version, by its ARN. */
  layerTextOf: (arn: string) => string | undefined;
}

export interface View {
  functions: Map<string, FunctionState>;
  layers: Map<string, LayerState>;
}

const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64');

async function download(url: string | undefined): Promise<string> {
  if (!url) return 'no location';
  const res = await fetch(url);
  if (!res.ok) return `HTTP ${res.status}`;
  return sha(Buffer.from(await res.arrayBuffer()));
}

/** The API's view of functions named `keep(name)` and of every layer; `tagOf` maps a digest to what an invoke must return. */
export async function apiView(lambda: LambdaClient, keep: (name: string) => boolean, problems: string[], opts: CheckOptions): Promise<View> {
  const view: View = { functions: new Map(), layers: new Map() };
  const names: string[] = [];
  for (let marker: string | undefined, first = true; first || marker; first = false) {
    const page = await lambda.send(new ListFunctionsCommand({ Marker: marker }));
    names.push(...(page.Functions ?? []).map((f) => f.FunctionName ?? '?'));
    marker = page.NextMarker;
  }
  for (const name of names.filter(keep)) view.functions.set(name, await functionView(lambda, name, problems, opts));
  const layerNames: string[] = [];
  for (let marker: string | undefined, first = true; first || marker; first = false) {
    const page = await lambda.send(new ListLayersCommand({ Marker: marker }));
    layerNames.push(...(page.Layers ?? []).map((l) => l.LayerName ?? '?'));
    marker = page.NextMarker;
  }
  for (const layer of layerNames) {
    const versions = await layerView(lambda, layer, problems);
    if (versions.size > 0) view.layers.set(layer, versions);
  }
  return view;
}

async function functionView(lambda: LambdaClient, name: string, problems: string[], opts: CheckOptions): Promise<FunctionState> {
  const got = await lambda.send(new GetFunctionCommand({ FunctionName: name }));
  const codeSha = got.Configuration?.CodeSha256 ?? '';
  const downloaded = await download(got.Code?.Location);
  if (downloaded !== codeSha) problems.push(`${name}: GetFunction says CodeSha256 ${codeSha}, its Code.Location gives ${downloaded}`);
  const versions = new Map<string, VersionState>();
  for (let marker: string | undefined, first = true; first || marker; first = false) {
    const page = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: name, Marker: marker }));
    for (const v of page.Versions ?? []) {
      if (v.Version === '$LATEST' || v.Version === undefined) continue;
      versions.set(v.Version, { sha: v.CodeSha256 ?? '', description: v.Description ?? '', layers: (v.Layers ?? []).map((l) => l.Arn ?? '?') });
      const byGet = await lambda.send(new GetFunctionCommand({ FunctionName: name, Qualifier: v.Version }));
      if (byGet.Configuration?.CodeSha256 !== v.CodeSha256) problems.push(`${name}:${v.Version}: listed with ${v.CodeSha256}, GetFunction says ${byGet.Configuration?.CodeSha256}`);
    }
    marker = page.NextMarker;
  }
  const aliases = new Map<string, string>();
  const page = await lambda.send(new ListAliasesCommand({ FunctionName: name }));
  for (const a of page.Aliases ?? []) {
    aliases.set(a.Name ?? '?', a.FunctionVersion ?? '?');
    const byGet = await lambda.send(new GetFunctionCommand({ FunctionName: name, Qualifier: a.Name }));
    if (byGet.Configuration?.Version !== a.FunctionVersion) problems.push(`${name}:${a.Name}: listed at version ${a.FunctionVersion}, GetFunction resolves ${byGet.Configuration?.Version}`);
    if (!versions.has(a.FunctionVersion ?? '?')) problems.push(`${name}:${a.Name} points at version ${a.FunctionVersion}, which is not listed`);
  }
  const layers = (got.Configuration?.Layers ?? []).map((l) => l.Arn ?? '?');
  let tag = opts.tagOf(codeSha) ?? `unknown code ${codeSha}`;
  if (opts.invoke) {
    const out = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from('{}') }));
    const text = Buffer.from(out.Payload ?? new Uint8Array()).toString();
    const ran = out.FunctionError ? { tag: `function error ${text}`, opt: undefined } : (JSON.parse(text) as { tag?: string; opt?: string | null });
    if (ran.tag !== tag) problems.push(`${name}: invoking $LATEST ran code ${ran.tag}, but its CodeSha256 ${codeSha} is code ${tag}`);
    const opt = layers.length === 0 ? null : opts.layerTextOf(layers[0] ?? '');
    if (opt !== undefined && ran.opt !== opt) problems.push(`${name}: invoking $LATEST saw /opt/nodejs/fault.txt ${JSON.stringify(ran.opt)}, but its layers [${layers.join(' ')}] hold ${JSON.stringify(opt)}`);
    tag = ran.tag ?? tag;
  }
  return { tag, sha: codeSha, description: got.Configuration?.Description ?? '', layers, versions, aliases };
}

async function layerView(lambda: LambdaClient, layer: string, problems: string[]): Promise<LayerState> {
  const state: LayerState = new Map();
  for (let marker: string | undefined, first = true; first || marker; first = false) {
    const page = await lambda.send(new ListLayerVersionsCommand({ LayerName: layer, Marker: marker }));
    for (const v of page.LayerVersions ?? []) {
      const got = await lambda.send(new GetLayerVersionCommand({ LayerName: layer, VersionNumber: v.Version }));
      const codeSha = got.Content?.CodeSha256 ?? '';
      // Stratus gives no Content.Location for a layer version: its content is checked in the store.
      const downloaded = got.Content?.Location === undefined ? codeSha : await download(got.Content.Location);
      if (downloaded !== codeSha) problems.push(`layer ${layer}:${v.Version}: CodeSha256 ${codeSha}, its Content.Location gives ${downloaded}`);
      state.set(v.Version ?? -1, codeSha);
    }
    marker = page.NextMarker;
  }
  return state;
}

interface StoredFunction { name: string; description: string; code: { sha256: string }; layers?: { arn: string; code: { sha256: string } }[] }
interface StoredVersion extends StoredFunction { version: string }
interface StoredAlias { functionName: string; name: string; functionVersion: string }
interface StoredLayer { name: string; versions: Record<string, { version: number; code: { sha256: string } }> }

export interface StoreView extends View {
  /** Every code digest (hex) a stored document refers to, in any account. */
  referenced: Set<string>;
  /** Digests (hex) of the layers `ACCOUNT`'s functions and versions use (deleted layer versions included). */
  layerBlobs: Set<string>;
}

/** A stored document of the collections the harness checks. */
export interface StoredRow {
  collection: 'functions' | 'versions' | 'aliases' | 'layers';
  key: string;
  value: unknown;
}

/** The documents of a single machine's SQLite journal, read read-only beside the running server. */
export function sqliteRows(dataDir: string): StoredRow[] {
  const db = new Database(join(dataDir, 'journal.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], { collection: StoredRow['collection']; key: string; value: string }>(
      "SELECT collection, key, value FROM documents WHERE collection IN ('functions', 'versions', 'aliases', 'layers')").all()
      .map((r) => ({ ...r, value: JSON.parse(r.value) as unknown }));
  } finally {
    db.close();
  }
}

/** The store's view of `ACCOUNT`'s functions named `keep(name)` and its layers, from its documents. */
export function storeView(rows: StoredRow[], keep: (name: string) => boolean, problems: string[]): StoreView {
  const view: StoreView = { functions: new Map(), layers: new Map(), referenced: new Set(), layerBlobs: new Set() };
  const mine = rows.filter((r) => r.key.startsWith(`${ACCOUNT}/`));
  const of = <T>(collection: StoredRow['collection']) => mine.filter((r) => r.collection === collection).map((r) => r.value as T);
  for (const r of rows) {
    const v = r.value as { code?: { sha256?: string }; versions?: StoredLayer['versions']; layers?: StoredFunction['layers'] };
    if (v.code?.sha256) view.referenced.add(v.code.sha256);
    for (const l of v.layers ?? []) view.referenced.add(l.code.sha256);
    for (const lv of Object.values(v.versions ?? {})) view.referenced.add(lv.code.sha256);
  }
  for (const f of of<StoredFunction>('functions').filter((f) => keep(f.name))) {
    view.functions.set(f.name, { tag: '', sha: b64(f.code.sha256), description: f.description, layers: (f.layers ?? []).map((l) => l.arn), versions: new Map(), aliases: new Map() });
    for (const l of f.layers ?? []) view.layerBlobs.add(l.code.sha256);
  }
  for (const v of of<StoredVersion>('versions').filter((v) => keep(v.name))) {
    const f = view.functions.get(v.name);
    for (const l of v.layers ?? []) view.layerBlobs.add(l.code.sha256);
    if (f) f.versions.set(v.version, { sha: b64(v.code.sha256), description: v.description, layers: (v.layers ?? []).map((l) => l.arn) });
    else problems.push(`store: version ${v.name}:${v.version} of no stored function`);
  }
  for (const a of of<StoredAlias>('aliases').filter((a) => keep(a.functionName))) {
    const f = view.functions.get(a.functionName);
    if (f) f.aliases.set(a.name, a.functionVersion);
    else problems.push(`store: alias ${a.functionName}:${a.name} of no stored function`);
  }
  for (const l of of<StoredLayer>('layers')) {
    const versions: LayerState = new Map(Object.values(l.versions).map((lv) => [lv.version, b64(lv.code.sha256)]));
    if (versions.size > 0) view.layers.set(l.name, versions);
  }
  return view;
}

/** Each code blob of the view (on a single machine's disk) must exist and hold the bytes of its name. */
export async function checkBlobs(dataDir: string, view: StoreView, problems: string[]): Promise<void> {
  const hexes = new Set<string>(view.layerBlobs);
  for (const f of view.functions.values()) for (const s of [f.sha, ...[...f.versions.values()].map((v) => v.sha)]) hexes.add(Buffer.from(s, 'base64').toString('hex'));
  for (const l of view.layers.values()) for (const s of l.values()) hexes.add(Buffer.from(s, 'base64').toString('hex'));
  for (const hex of hexes) {
    const bytes = await readFile(join(dataDir, 'code', 'sha256', hex)).catch(() => undefined);
    if (!bytes) problems.push(`store: code blob ${hex} is referenced but missing`);
    else if (sha(bytes) !== b64(hex)) problems.push(`store: code blob ${hex} holds other bytes (${sha(bytes)})`);
  }
}
