/**
 * The invariants checked after every restart, each a function of its own returning violations:
 * - the API's view equals the store's (`apiMatchesStore`);
 * - no acknowledged write is lost: every entity is as the ledger says, or, if a write to it was
 *   in flight at the kill, as that write would have left it (`ledgerHolds`); the entity is then
 *   adopted as observed, so the next trial starts from what is;
 * - every acknowledged Event invoke is delivered at least once (`undelivered`).
 * Orphans (processes, cgroups, temporary files, blobs) are in orphans.ts.
 */
import { cloneFunction, type FunctionState, type LayerState, type Ledger, type PendingWrite, type VersionState } from './model.js';
import type { View } from './observe.js';

const fmtFn = (f: FunctionState | undefined): string =>
  f === undefined ? 'absent'
    : `{code ${f.tag} ${f.sha}, ${f.description}, layers [${f.layers.join(' ')}], versions ${[...f.versions].map(([v, s]) => `${v}=${s.sha.slice(0, 8)}/${s.description}`).join(' ')}, aliases ${[...f.aliases].map(([a, v]) => `${a}->${v}`).join(' ')}}`;
const fmtLayer = (l: LayerState | undefined): string => (l === undefined ? 'absent' : `{${[...l].map(([v, s]) => `${v}=${s.slice(0, 8)}`).join(' ')}}`);

function sameMap<V>(a: Map<string | number, V>, b: Map<string | number, V>, eq: (x: V, y: V) => boolean): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.has(k) && eq(v, b.get(k) as V));
}
const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const sameVersion = (x: VersionState, y: VersionState) => x.sha === y.sha && x.description === y.description && sameList(x.layers, y.layers);

function sameFunction(a: FunctionState | undefined, b: FunctionState | undefined, opts: { tags: boolean }): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.sha === b.sha && a.description === b.description && sameList(a.layers, b.layers) && (!opts.tags || a.tag === b.tag)
    && sameMap(a.versions, b.versions, sameVersion) && sameMap(a.aliases, b.aliases, (x, y) => x === y);
}

/** Each way the API's view differs from the store's. */
export function apiMatchesStore(api: View, store: View): string[] {
  const out: string[] = [];
  for (const name of new Set([...api.functions.keys(), ...store.functions.keys()])) {
    const a = api.functions.get(name);
    const s = store.functions.get(name);
    if (!sameFunction(a, s, { tags: false })) out.push(`API and store disagree on ${name}: API ${fmtFn(a)}, store ${fmtFn(s)}`);
  }
  for (const layer of new Set([...api.layers.keys(), ...store.layers.keys()])) {
    const a = api.layers.get(layer);
    const s = store.layers.get(layer);
    if (!a || !s || !sameMap(a, s, (x, y) => x === y)) out.push(`API and store disagree on layer ${layer}: API ${fmtLayer(a)}, store ${fmtLayer(s)}`);
  }
  return out;
}

/**
 * A DeleteFunction cut short: it removes aliases, then versions, then the function, so what is
 * left is the function with some of its aliases and versions (the client's retry finishes it).
 */
export function partOf(part: FunctionState, whole: FunctionState): boolean {
  return part.sha === whole.sha && part.description === whole.description && part.tag === whole.tag && sameList(part.layers, whole.layers)
    && [...part.versions].every(([v, s]) => { const w = whole.versions.get(v); return w !== undefined && sameVersion(s, w); })
    && [...part.aliases].every(([a, v]) => whole.aliases.get(a) === v);
}

/** May `actual` be what `acked` became through `write` (applied whole, or not at all)? */
function functionAllowed(acked: FunctionState | undefined, actual: FunctionState | undefined, write: PendingWrite | undefined): boolean {
  if (sameFunction(acked, actual, { tags: true })) return true;
  if (!write) return false;
  if (write.kind === 'create-function') {
    return acked === undefined && actual !== undefined && sameFunction(actual, { tag: write.tag, sha: write.sha, description: write.description, layers: [], versions: new Map(), aliases: new Map() }, { tags: true });
  }
  if (!acked || !actual) return write.kind === 'delete-function' && actual === undefined;
  if (write.kind === 'delete-function') return partOf(actual, acked);
  const after = cloneFunction(acked);
  switch (write.kind) {
    case 'update-code': Object.assign(after, { tag: write.tag, sha: write.sha }); break;
    case 'update-config': Object.assign(after, { description: write.description, layers: write.layers }); break;
    case 'delete-version': after.versions.delete(write.version); break;
    case 'put-alias': after.aliases.set(write.alias, write.version); break;
    case 'delete-alias': after.aliases.delete(write.alias); break;
    case 'publish-version': {
      // One new version, numbered after every acknowledged one, holding $LATEST as it was.
      const added = [...actual.versions.keys()].filter((v) => !acked.versions.has(v));
      const top = Math.max(0, ...[...acked.versions.keys()].map(Number));
      const [v] = added;
      if (added.length !== 1 || v === undefined || Number(v) <= top) return false;
      after.versions.set(v, { sha: acked.sha, description: acked.description, layers: acked.layers });
      break;
    }
    default: return false;
  }
  return sameFunction(after, actual, { tags: true });
}

function layerAllowed(acked: LayerState | undefined, actual: LayerState | undefined, write: PendingWrite | undefined): boolean {
  const a = acked ?? new Map<number, string>();
  const b = actual ?? new Map<number, string>();
  if (sameMap(a, b, (x, y) => x === y)) return true;
  if (write?.kind === 'delete-layer-version') {
    const after = new Map(a);
    after.delete(write.version);
    return sameMap(after, b, (x, y) => x === y);
  }
  if (write?.kind === 'publish-layer') {
    const added = [...b.keys()].filter((v) => !a.has(v));
    const [v] = added;
    const after = new Map(a);
    if (v !== undefined) after.set(v, write.sha);
    return added.length === 1 && v !== undefined && v > Math.max(0, ...a.keys()) && sameMap(after, b, (x, y) => x === y);
  }
  return false;
}

/**
 * Each acknowledged write the restarted server lost (or a state no write explains); then the
 * ledger adopts what was observed of entities with a write in flight, and forgets those writes.
 */
export function ledgerHolds(ledger: Ledger, api: View, owned: (name: string) => boolean, notes: string[] = []): string[] {
  const out: string[] = [];
  const names = new Set([...ledger.functions.keys(), ...[...api.functions.keys()].filter(owned)]);
  for (const name of names) {
    const write = ledger.pending.get(`fn:${name}`);
    const acked = ledger.functions.get(name);
    const actual = api.functions.get(name);
    if (!functionAllowed(acked, actual, write)) {
      out.push(`${name}: acknowledged ${fmtFn(acked)}${write ? ` with ${JSON.stringify(write)} in flight` : ''}, after the restart ${fmtFn(actual)}`);
    } else if (write?.kind === 'delete-function' && actual && !sameFunction(acked, actual, { tags: true })) {
      notes.push(`partial delete of ${name}: ${fmtFn(actual)} left of ${fmtFn(acked)}`);
    }
    if (actual) ledger.functions.set(name, cloneFunction(actual));
    else if (ledger.functions.delete(name)) ledger.deletedNames.add(name);
  }
  for (const layer of new Set([...ledger.layers.keys(), ...[...api.layers.keys()].filter(owned)])) {
    const write = ledger.pending.get(`layer:${layer}`);
    const acked = ledger.layers.get(layer);
    const actual = api.layers.get(layer);
    if (!layerAllowed(acked, actual, write)) {
      out.push(`layer ${layer}: acknowledged ${fmtLayer(acked)}${write ? ` with ${JSON.stringify(write)} in flight` : ''}, after the restart ${fmtLayer(actual)}`);
    }
    if (actual) ledger.layers.set(layer, new Map(actual));
    else ledger.layers.delete(layer);
  }
  ledger.pending.clear();
  return out;
}

/** Acknowledged Event invokes not (yet) delivered, given every `DELIVERED <id>` line seen. */
export function undelivered(ledger: Ledger, outputs: string[]): string[] {
  const seen = new Set<string>();
  for (const text of outputs) for (const m of text.matchAll(/DELIVERED (ev-\S+)/g)) seen.add(m[1] ?? '');
  return [...ledger.events].filter((id) => !seen.has(id));
}
