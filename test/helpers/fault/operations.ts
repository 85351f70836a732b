/**
 * The operation mix the fault-injection suite drives through the AWS SDK: streams of management
 * writes and Event invokes, each stream on entities of its own, each write entered in the ledger
 * once it is answered with success, or held as pending when the server died before answering.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  CreateAliasCommand, CreateFunctionCommand, DeleteAliasCommand, DeleteFunctionCommand, DeleteLayerVersionCommand, InvokeCommand,
  PublishLayerVersionCommand, PublishVersionCommand, UpdateAliasCommand, UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { makeZip } from '../zip.js';
import { entityOf, type Ledger, type PendingWrite } from './model.js';
import type { Prng } from './prng.js';

export const ROLE = 'arn:aws:iam::000000000000:role/fault-role';
/** The function Event invokes go to: never deleted or changed by the mix. */
export const SINK = 'fault-sink';
const MAX_FUNCTIONS_PER_STREAM = 3;
const ALIASES = ['live', 'beta'];
/** Caps that keep each check's listing small however many trials run. */
const MAX_VERSIONS = 6;
const MAX_LAYER_VERSIONS = 6;
/** One upload in twenty is this big, so that kills land inside code-store writes too. */
const BIG_ZIP_BYTES = 1024 * 1024;
const padding = (prng: Prng) => (prng.next() < 0.05 ? BIG_ZIP_BYTES : 0);

/**
 * A handler that waits `event.ms`, logs `DELIVERED <id>` for an event with an id, and returns its
 * tag and its layer's file. `padBytes` of incompressible padding make the upload's write long.
 */
export function functionZip(tag: string, padBytes = 0): Promise<Buffer> {
  return makeZip({
    ...(padBytes > 0 ? { 'padding.bin': randomBytes(padBytes) } : {}),
    'index.js': `exports.handler = async (event) => {
  if (event && event.ms) await new Promise((r) => setTimeout(r, event.ms));
  if (event && event.id) console.log('DELIVERED ' + event.id);
  let opt = null;
  try { opt = require('fs').readFileSync('/opt/nodejs/fault.txt', 'utf8'); } catch {}
  return { tag: ${JSON.stringify(tag)}, opt };
};\n`,
  });
}

export const sha256b64 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('base64');

export interface StreamContext {
  lambda: LambdaClient;
  ledger: Ledger;
  prng: Prng;
  /** `s<n>-`: the names this stream owns. */
  prefix: string;
  /** Called as each request is issued (the kill is timed from one). */
  onIssue?: (kind: string) => void;
  /** Distinguishes names and tags across trials. */
  trial: number;
  /** True once the trial ends: no new operation starts. */
  stopped: () => boolean;
  /** True once the fault is injected: from then on an operation may fail (and ends its stream). */
  faulted: () => boolean;
  /** An answer that contradicts the ledger (a violation the harness reports). */
  violation: (message: string) => void;
}

interface Op {
  write: PendingWrite;
  send: () => Promise<unknown>;
  ack: (out: unknown) => void;
}

/** Stratus's refusal of a write on a full data disk (`shared/disk-space.ts`). */
const DISK_FULL = /data disk is full/;

/** Runs operations until `stopped()`; resolves how many were issued. */
export async function runStream(ctx: StreamContext): Promise<number> {
  let issued = 0;
  let counter = 0;
  while (!ctx.stopped()) {
    const op = await chooseOp(ctx, `t${ctx.trial}n${counter++}`);
    if (!op) continue;
    issued++;
    ctx.onIssue?.(op.write.kind);
    let out: unknown;
    try {
      out = await op.send();
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      // A client error, or the data disk's DiskFull (a clear refusal: nothing of it stored).
      if ((typeof status === 'number' && status < 500) || DISK_FULL.test((err as Error).message)) {
        ctx.ledger.rejected++; // refused: nothing changed
        const why = `${op.write.kind}: ${DISK_FULL.test((err as Error).message) ? 'DiskFull' : (err as Error).name}`;
        ctx.ledger.refusals.set(why, (ctx.ledger.refusals.get(why) ?? 0) + 1);
        continue;
      }
      // No answer (the server died) or a server error: it may or may not have happened.
      ctx.ledger.pending.set(entityOf(op.write), op.write);
      if (op.write.kind === 'event') ctx.ledger.maybeEvents.add(op.write.id);
      if (!ctx.faulted()) ctx.violation(`${op.write.kind} failed before any kill: ${String(err)}`);
      return issued;
    }
    ctx.ledger.acked++;
    op.ack(out);
  }
  return issued;
}

async function chooseOp(ctx: StreamContext, id: string): Promise<Op | undefined> {
  const { ledger, prng, prefix } = ctx;
  const names = ledger.functionNames(prefix);
  const fn = prng.pick(names);
  const f = fn === undefined ? undefined : ledger.functions.get(fn);
  const layer = `${prefix}layer-${prng.pick(['a', 'b'])}`;
  const layerVersions = [...(ledger.layers.get(layer)?.keys() ?? [])];
  const kind = prng.weighted({
    'create-function': names.length < MAX_FUNCTIONS_PER_STREAM ? 3 : 0,
    'update-code': f ? 2 : 0,
    'update-config': f ? 2 : 0,
    'publish-version': f && f.versions.size < MAX_VERSIONS ? 3 : 0,
    'delete-version': f && f.versions.size > 0 ? (f.versions.size < MAX_VERSIONS ? 1 : 3) : 0,
    'put-alias': f && f.versions.size > 0 ? 3 : 0,
    'delete-alias': f && f.aliases.size > 0 ? 1 : 0,
    'delete-function': f ? 1 : 0,
    'publish-layer': layerVersions.length < MAX_LAYER_VERSIONS ? 2 : 0,
    'delete-layer-version': layerVersions.length > 0 ? (layerVersions.length < MAX_LAYER_VERSIONS ? 1 : 3) : 0,
    event: 2,
    invoke: f ? 0.3 : 0,
  });
  const { lambda } = ctx;
  switch (kind) {
    case 'create-function': {
      // Half the time the name of a deleted function: nothing of the old one may come back.
      const reuse = prng.next() < 0.5 ? prng.pick([...ledger.deletedNames].filter((n) => n.startsWith(prefix) && !ledger.functions.has(n))) : undefined;
      const name = reuse ?? `${prefix}fn-${id}`;
      const tag = `${name}-code-${id}`;
      const zip = await functionZip(tag, padding(prng));
      const write: PendingWrite = { kind, name, tag, sha: sha256b64(zip), description: 'd0' };
      ledger.tagOfSha.set(write.sha, tag);
      return {
        write,
        send: () => lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'nodejs20.x', Role: ROLE, Handler: 'index.handler', Description: 'd0', Code: { ZipFile: zip } })),
        ack: () => ledger.functions.set(name, { tag, sha: write.sha, description: 'd0', layers: [], versions: new Map(), aliases: new Map() }),
      };
    }
    case 'update-code': {
      if (!f || fn === undefined) return undefined;
      const tag = `${fn}-code-${id}`;
      const zip = await functionZip(tag, padding(prng));
      const sha = sha256b64(zip);
      ledger.tagOfSha.set(sha, tag);
      return {
        write: { kind, name: fn, tag, sha },
        send: () => lambda.send(new UpdateFunctionCodeCommand({ FunctionName: fn, ZipFile: zip })),
        ack: () => Object.assign(f, { tag, sha }),
      };
    }
    case 'update-config': {
      if (!f || fn === undefined) return undefined;
      const description = `d-${id}`;
      // Half the time the layers change too: one of this stream's layer versions, or none.
      const arns = [...ledger.layerText.keys()].filter((a) => {
        const [, name = '', version = ''] = /:layer:([^:]+):(\d+)$/.exec(a) ?? [];
        return name.startsWith(prefix) && ledger.layers.get(name)?.has(Number(version)); // an existing layer version
      });
      const keep = prng.next() < 0.5; // then Layers is not sent: the function may use a layer version deleted since
      const layers = keep ? f.layers : prng.next() < 0.3 ? [] : [prng.pick(arns)].filter((a): a is string => a !== undefined);
      return {
        write: { kind, name: fn, description, layers },
        send: () => lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: fn, Description: description, ...(keep ? {} : { Layers: layers }) })),
        ack: () => Object.assign(f, { description, layers }),
      };
    }
    case 'publish-version': {
      if (!f || fn === undefined) return undefined;
      return {
        write: { kind, name: fn },
        send: () => lambda.send(new PublishVersionCommand({ FunctionName: fn })),
        ack: (out) => {
          const o = out as { Version?: string; CodeSha256?: string; Description?: string };
          if (o.CodeSha256 !== f.sha || o.Description !== f.description) {
            ctx.violation(`PublishVersion ${fn} answered version ${o.Version} of ${o.CodeSha256}/${o.Description}, but $LATEST is ${f.sha}/${f.description}`);
          }
          f.versions.set(o.Version ?? '?', { sha: f.sha, description: f.description, layers: f.layers });
        },
      };
    }
    case 'delete-version': {
      const version = prng.pick([...(f?.versions.keys() ?? [])]);
      if (!f || fn === undefined || version === undefined) return undefined;
      return {
        write: { kind, name: fn, version },
        send: () => lambda.send(new DeleteFunctionCommand({ FunctionName: fn, Qualifier: version })),
        ack: () => f.versions.delete(version),
      };
    }
    case 'put-alias': {
      const version = prng.pick([...(f?.versions.keys() ?? [])]);
      const alias = prng.pick(ALIASES) ?? 'live';
      if (!f || fn === undefined || version === undefined) return undefined;
      const exists = f.aliases.has(alias);
      return {
        write: { kind, name: fn, alias, version },
        send: () => (exists
          ? lambda.send(new UpdateAliasCommand({ FunctionName: fn, Name: alias, FunctionVersion: version }))
          : lambda.send(new CreateAliasCommand({ FunctionName: fn, Name: alias, FunctionVersion: version }))),
        ack: () => f.aliases.set(alias, version),
      };
    }
    case 'delete-alias': {
      const alias = prng.pick([...(f?.aliases.keys() ?? [])]);
      if (!f || fn === undefined || alias === undefined) return undefined;
      return {
        write: { kind, name: fn, alias },
        send: () => lambda.send(new DeleteAliasCommand({ FunctionName: fn, Name: alias })),
        ack: () => f.aliases.delete(alias),
      };
    }
    case 'delete-function': {
      if (fn === undefined) return undefined;
      return { write: { kind, name: fn }, send: () => lambda.send(new DeleteFunctionCommand({ FunctionName: fn })), ack: () => (ledger.functions.delete(fn), ledger.deletedNames.add(fn)) };
    }
    case 'publish-layer': {
      const text = `${layer} ${id}`;
      const zip = await makeZip({ 'nodejs/fault.txt': text });
      const sha = sha256b64(zip);
      return {
        write: { kind, layer, sha },
        send: () => lambda.send(new PublishLayerVersionCommand({ LayerName: layer, Content: { ZipFile: zip }, CompatibleRuntimes: ['nodejs20.x'] })),
        ack: (out) => {
          const o = out as { Version?: number; LayerVersionArn?: string; Content?: { CodeSha256?: string } };
          ledger.layerText.set(o.LayerVersionArn ?? '?', text);
          if (o.Content?.CodeSha256 !== sha) ctx.violation(`PublishLayerVersion ${layer} answered ${o.Content?.CodeSha256}, uploaded ${sha}`);
          const versions = ledger.layers.get(layer) ?? new Map<number, string>();
          versions.set(o.Version ?? -1, sha);
          ledger.layers.set(layer, versions);
        },
      };
    }
    case 'delete-layer-version': {
      const version = prng.pick(layerVersions);
      if (version === undefined) return undefined;
      return {
        write: { kind, layer, version },
        send: () => lambda.send(new DeleteLayerVersionCommand({ LayerName: layer, VersionNumber: version })),
        ack: () => ledger.layers.get(layer)?.delete(version),
      };
    }
    case 'event': {
      const eventId = `ev-${prefix}${id}`;
      return {
        write: { kind, id: eventId },
        send: () => lambda.send(new InvokeCommand({ FunctionName: SINK, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ id: eventId, ms: prng.int(0, 300) })) })),
        ack: () => ledger.events.add(eventId),
      };
    }
    case 'invoke': {
      // Changes nothing, but starts sandboxes, so kills land in cold starts too. $LATEST, a version
      // or an alias: it must run the code and layer the ledger says that qualifier has.
      if (!f || fn === undefined) return undefined;
      const qualifier = prng.pick(['$LATEST', ...f.versions.keys(), ...f.aliases.keys()]) ?? '$LATEST';
      const target = qualifier === '$LATEST' ? f : f.versions.get(f.aliases.get(qualifier) ?? qualifier);
      if (!target) return undefined;
      const expected = 'tag' in target ? target.tag : ledger.tagOfSha.get(target.sha);
      const expectedOpt = target.layers.length === 0 ? null : ledger.layerText.get(target.layers[0] ?? '');
      return {
        write: { kind: 'invoke', name: fn },
        send: () => lambda.send(new InvokeCommand({ FunctionName: fn, Qualifier: qualifier, Payload: Buffer.from(JSON.stringify({ ms: prng.int(0, 50) })) })),
        ack: (out) => {
          ctx.ledger.acked--; // not a write
          const o = out as { Payload?: Uint8Array; FunctionError?: string };
          const text = Buffer.from(o.Payload ?? new Uint8Array()).toString();
          const got = o.FunctionError ? { tag: `function error ${text}`, opt: undefined } : (JSON.parse(text) as { tag?: string; opt?: string | null });
          if (expected !== undefined && got.tag !== expected) ctx.violation(`invoking ${fn}:${qualifier} ran ${got.tag}, but its acknowledged code is ${expected}`);
          if (expectedOpt !== undefined && got.opt !== expectedOpt) {
            ctx.violation(`invoking ${fn}:${qualifier} saw /opt/nodejs/fault.txt ${JSON.stringify(got.opt)}, but its acknowledged layers [${target.layers.join(' ')}] hold ${JSON.stringify(expectedOpt)}`);
          }
        },
      };
    }
    default:
      return undefined;
  }
}
