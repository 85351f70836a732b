/**
 * What the harness knows the store must hold: the state every acknowledged write left (the
 * ledger), plus, per entity, the one write that was in flight when the server was killed (it may
 * or may not have happened). Streams of operations own disjoint entities, so an entity has at
 * most one write in flight.
 */
export interface VersionState {
  sha: string;
  description: string;
  /** Layers (version ARNs), in order. */
  layers: string[];
}

export interface FunctionState {
  /** Tells code packages apart: the handler returns it. */
  tag: string;
  /** CodeSha256 (base64), as the API shows it. */
  sha: string;
  description: string;
  layers: string[];
  versions: Map<string, VersionState>;
  /** alias name -> version */
  aliases: Map<string, string>;
}

/** layer version -> CodeSha256 (base64) */
export type LayerState = Map<number, string>;

/** A write whose answer the harness never got (the server died first). */
export type PendingWrite =
  | { kind: 'create-function'; name: string; tag: string; sha: string; description: string }
  | { kind: 'update-code'; name: string; tag: string; sha: string }
  | { kind: 'update-config'; name: string; description: string; layers: string[] }
  | { kind: 'publish-version'; name: string }
  | { kind: 'delete-function'; name: string }
  | { kind: 'delete-version'; name: string; version: string }
  | { kind: 'put-alias'; name: string; alias: string; version: string }
  | { kind: 'delete-alias'; name: string; alias: string }
  | { kind: 'publish-layer'; layer: string; sha: string }
  | { kind: 'delete-layer-version'; layer: string; version: number }
  | { kind: 'event'; id: string }
  /** Not a write: an invoke in flight changes nothing. */
  | { kind: 'invoke'; name: string };

export class Ledger {
  readonly functions = new Map<string, FunctionState>();
  readonly layers = new Map<string, LayerState>();
  /** Event invokes answered 202: each must be delivered at least once. */
  readonly events = new Set<string>();
  /** Event invokes in flight at a kill: delivery optional. */
  readonly maybeEvents = new Set<string>();
  /** Writes in flight at the last kill, by entity ("fn:<name>", "layer:<name>"). */
  readonly pending = new Map<string, PendingWrite>();
  /** Functions deleted (acknowledged): a create may take the name again. */
  readonly deletedNames = new Set<string>();
  /** The content of every layer version (its /opt/nodejs/fault.txt) by its ARN. */
  readonly layerText = new Map<string, string>();
  /** tag of every code package by its CodeSha256, to check what an invoke ran. */
  readonly tagOfSha = new Map<string, string>();
  acked = 0;
  rejected = 0;
  /** Refusals (4xx answers) by operation and error name: a mix that is mostly refused tests little. */
  readonly refusals = new Map<string, number>();

  functionNames(prefix: string): string[] {
    return [...this.functions.keys()].filter((n) => n.startsWith(prefix)).sort();
  }
}

export const entityOf = (w: PendingWrite): string =>
  w.kind === 'event' ? `event:${w.id}` : 'layer' in w ? `layer:${w.layer}` : `fn:${w.name}`;

export function cloneFunction(f: FunctionState): FunctionState {
  return { ...f, versions: new Map(f.versions), aliases: new Map(f.aliases) };
}
