import { inspectZip, type CodeRef, type CodeStore } from '../../codestore/index.js';
import {
  GET_LAYER_VERSION, LAYER_ARCHITECTURES, LAYER_VERSION_ARN, LAYER_VERSION_ARN_TEXT, layerAccessDenied, layerArn, layerPolicyDocument,
  layerStatementDocument, normalPrincipal, parseLayerName, parseLayerVersionArn,
  type LayerRef, type LayerStore, type LayerVersionRecord,
} from '../../layers/index.js';
import type { FunctionLayer } from '../../registry/index.js';
import { StratusError } from '../../shared/errors.js';
import { lambdaTimestamp } from '../../shared/ids.js';
import { parseJsonObject, type ApiRequest, type Route, Validator, pathParam } from '../http/index.js';
import { callerAccount } from './caller.js';
import { LAMBDA_RUNTIMES } from './shapes.js';

export interface LayerRoutesDeps {
  layers: LayerStore;
  maxZipBytes: number;
}

const BASE = '/2018-10-31/layers';
const SEG = '([^/]+)';
const SMALL = { body: 1024 * 1024, tooLargeMessage: 'Request must be smaller than 1048576 bytes', sigv4: true } as const;
const PRINCIPAL = /^(\d{12}|\*|arn:(aws[a-zA-Z-]*):iam::\d{12}:root)$/;

/**
 * Lambda's layer API (`/2018-10-31/layers`): an account publishes, lists and deletes its own
 * layers and grants their versions to other accounts; another account's version is readable
 * only as its policy allows (AccessDeniedException otherwise, as AWS answers).
 */
export function layerRoutes(deps: LayerRoutesDeps): Route[] {
  const { layers } = deps;
  const bodyLimit = Math.ceil((deps.maxZipBytes * 4) / 3) + 1024 * 1024;
  const ref = (req: ApiRequest) => parseLayerName(pathParam(req, 0), callerAccount(req), layers.region);
  /** The caller's own layer, for an operation only its owner may do. */
  const own = (req: ApiRequest, action: string) => {
    const r = ref(req);
    if (r.accountId !== callerAccount(req)) throw layerAccessDenied(callerAccount(req), action, layerArn(r.region, r.accountId, r.name));
    return r;
  };
  return [
    { method: 'GET', pattern: re(`${BASE}/?`), ...SMALL, handle: async (req) => ({ status: 200, body: await listOrFind(layers, req) }) },
    {
      method: 'POST', pattern: re(`${BASE}/${SEG}/versions/?`), body: bodyLimit, sigv4: true,
      tooLargeMessage: `Request must be smaller than ${bodyLimit} bytes for the PublishLayerVersion operation`,
      handle: async (req) => {
        const r = own(req, 'PublishLayerVersion');
        const { version } = await layers.publish(r.accountId, r.name, readPublish(req, deps.maxZipBytes));
        return { status: 201, body: layerVersionShape(layers, r, version) };
      },
    },
    {
      method: 'GET', pattern: re(`${BASE}/${SEG}/versions/?`), ...SMALL,
      handle: async (req) => {
        const r = own(req, 'ListLayerVersions');
        const filter = readFilters(req);
        const matching = (await layers.versions(r)).filter(filter.matches);
        const given = req.query.get('Marker');
        const marker = given === null ? Infinity : Number(given);
        if (!Number.isInteger(marker) && marker !== Infinity) throw new StratusError('InvalidParameterValue', `Invalid Marker: ${given}`);
        const rest = matching.filter((v) => v.version < marker);
        const page = rest.slice(0, filter.maxItems);
        const body: Record<string, unknown> = { LayerVersions: page.map((v) => listItem(layers, r, v)) };
        if (rest.length > page.length) body.NextMarker = String(page.at(-1)?.version);
        return { status: 200, body };
      },
    },
    {
      method: 'GET', pattern: re(`${BASE}/${SEG}/versions/${SEG}/?`), ...SMALL,
      handle: async (req) => {
        const r = ref(req);
        return { status: 200, body: layerVersionShape(layers, r, await layers.version(callerAccount(req), r, versionOf(req))) };
      },
    },
    {
      method: 'DELETE', pattern: re(`${BASE}/${SEG}/versions/${SEG}/?`), ...SMALL,
      handle: async (req) => {
        const version = versionOf(req);
        await layers.deleteVersion(own(req, 'DeleteLayerVersion'), version);
        return { status: 204 };
      },
    },
    {
      method: 'POST', pattern: re(`${BASE}/${SEG}/versions/${SEG}/policy/?`), ...SMALL,
      handle: async (req) => {
        const r = own(req, 'AddLayerVersionPermission');
        const version = versionOf(req);
        const statement = readStatement(parseJsonObject(req.body));
        const changed = await layers.addPermission(r, version, statement, req.query.get('RevisionId') ?? undefined);
        return { status: 201, body: { Statement: JSON.stringify(layerStatementDocument(statement, layers.arn(r, version))), RevisionId: changed.policy?.revisionId } };
      },
    },
    {
      method: 'GET', pattern: re(`${BASE}/${SEG}/versions/${SEG}/policy/?`), ...SMALL,
      handle: async (req) => {
        const r = own(req, 'GetLayerVersionPolicy');
        const version = versionOf(req);
        const found = await layers.owned(r, version);
        if (!found.policy || found.policy.statements.length === 0) throw new StratusError('ResourceNotFound', 'No policy is associated with the given resource.');
        return { status: 200, body: { Policy: layerPolicyDocument(found.policy, layers.arn(r, version)), RevisionId: found.policy.revisionId } };
      },
    },
    {
      method: 'DELETE', pattern: re(`${BASE}/${SEG}/versions/${SEG}/policy/${SEG}/?`), ...SMALL,
      handle: async (req) => {
        const r = own(req, 'RemoveLayerVersionPermission');
        const sid = pathParam(req, 2);
        await layers.removePermission(r, versionOf(req), sid, req.query.get('RevisionId') ?? undefined);
        return { status: 204 };
      },
    },
  ];
}

function re(path: string): RegExp {
  return new RegExp(`^${path}$`);
}

/** VersionNumber in the path: a positive integer. */
function versionOf(req: ApiRequest): number {
  const raw = pathParam(req, 1);
  if (!/^-?\d+$/.test(raw)) {
    throw new StratusError('Validation', `1 validation error detected: Value '${raw}' at 'versionNumber' failed to satisfy constraint: Member must be a number`);
  }
  const version = Number(raw);
  if (version < 1) throw new StratusError('InvalidParameterValue', 'Layer Version Cannot be less than 1');
  return version;
}

/** ListLayers, or (with ?find=LayerVersion) GetLayerVersionByArn: both are GET /2018-10-31/layers. */
async function listOrFind(layers: LayerStore, req: ApiRequest): Promise<Record<string, unknown>> {
  const caller = callerAccount(req);
  if (req.query.get('find') === 'LayerVersion') {
    const arn = req.query.get('Arn') ?? '';
    const parsed = parseLayerVersionArn(arn);
    if (!parsed || !LAYER_VERSION_ARN.test(arn)) {
      throw new StratusError('Validation', `1 validation error detected: Value '${arn}' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: ${LAYER_VERSION_ARN_TEXT}`);
    }
    return layerVersionShape(layers, parsed, await layers.version(caller, parsed, parsed.version));
  }
  const filter = readFilters(req);
  const marker = req.query.get('Marker') ?? '';
  const items: Record<string, unknown>[] = [];
  for (const doc of await layers.list(caller)) {
    const latest = Object.values(doc.versions).filter(filter.matches).sort((a, b) => b.version - a.version)[0];
    if (!latest || doc.name <= marker) continue;
    const r = { region: layers.region, accountId: caller, name: doc.name };
    items.push({ LayerName: doc.name, LayerArn: layerArn(r.region, r.accountId, r.name), LatestMatchingVersion: listItem(layers, r, latest) });
  }
  const page = items.slice(0, filter.maxItems);
  return { Layers: page, ...(items.length > page.length ? { NextMarker: page.at(-1)?.LayerName } : {}) };
}

interface Filters {
  maxItems: number;
  matches(v: LayerVersionRecord): boolean;
}

/** CompatibleRuntime, CompatibleArchitecture and MaxItems (1-50) of the two list operations. */
function readFilters(req: ApiRequest): Filters {
  const q = (key: string) => req.query.get(key) ?? undefined;
  const v = new Validator({ CompatibleRuntime: q('CompatibleRuntime'), CompatibleArchitecture: q('CompatibleArchitecture') });
  const runtime = v.string('CompatibleRuntime', 'compatibleRuntime', { enum: LAMBDA_RUNTIMES });
  const architecture = v.string('CompatibleArchitecture', 'compatibleArchitecture', { enum: LAYER_ARCHITECTURES });
  const max = q('MaxItems');
  if (max !== undefined && !(/^\d+$/.test(max) && Number(max) >= 1 && Number(max) <= 50)) {
    v.reject(max, 'maxItems', 'Member must have value less than or equal to 50, Member must have value greater than or equal to 1');
  }
  v.done();
  return {
    maxItems: max === undefined ? 50 : Number(max),
    matches: (l) => (runtime === undefined || (l.compatibleRuntimes ?? []).includes(runtime))
      && (architecture === undefined || (l.compatibleArchitectures ?? []).includes(architecture)),
  };
}

function readPublish(req: ApiRequest, maxZipBytes: number) {
  const body = parseJsonObject(req.body);
  const v = new Validator(body);
  const content = v.object('Content', 'content');
  if (body.Content === undefined || body.Content === null) v.reject(null, 'content', 'Member must not be null');
  const description = v.string('Description', 'description', { max: 256 }) ?? '';
  const licenseInfo = v.string('LicenseInfo', 'licenseInfo', { max: 512 });
  const runtimes = v.stringList('CompatibleRuntimes', 'compatibleRuntimes', 15);
  const architectures = v.stringList('CompatibleArchitectures', 'compatibleArchitectures', 2);
  runtimes?.forEach((r, i) => v.checkString(r, `compatibleRuntimes.${i + 1}.member`, { enum: LAMBDA_RUNTIMES }));
  architectures?.forEach((a, i) => v.checkString(a, `compatibleArchitectures.${i + 1}.member`, { enum: LAYER_ARCHITECTURES }));
  v.done();
  if (content?.S3Bucket !== undefined || content?.S3Key !== undefined) {
    throw new StratusError('InvalidParameterValue', 'Only ZipFile code is supported by this Stratus installation.');
  }
  const encoded = content?.ZipFile;
  if (typeof encoded !== 'string' || encoded.length === 0) throw new StratusError('InvalidParameterValue', 'Please provide a source for function code.');
  const zip = Buffer.from(encoded, 'base64');
  if (zip.length > maxZipBytes) throw new StratusError('RequestTooLarge', `Zipped size must be smaller than ${maxZipBytes} bytes`);
  return {
    zip, description, ...(licenseInfo !== undefined ? { licenseInfo } : {}),
    ...(runtimes ? { compatibleRuntimes: runtimes } : {}), ...(architectures ? { compatibleArchitectures: architectures } : {}),
  };
}

function readStatement(body: Record<string, unknown>) {
  const v = new Validator(body);
  const sid = v.string('StatementId', 'statementId', { required: true, min: 1, max: 100, pattern: /^([a-zA-Z0-9-_]+)$/, patternText: '([a-zA-Z0-9-_]+)' });
  v.string('Action', 'action', { required: true, max: 22, pattern: /^lambda:GetLayerVersion$/, patternText: GET_LAYER_VERSION });
  const principal = v.string('Principal', 'principal', { required: true, pattern: PRINCIPAL, patternText: '\\d{12}|\\*|arn:(aws[a-zA-Z-]*):iam::\\d{12}:root' });
  const organizationId = v.string('OrganizationId', 'organizationId', { max: 34, pattern: /^o-[a-z0-9]{10,32}$/, patternText: 'o-[a-z0-9]{10,32}' });
  v.done();
  return { sid: sid ?? '', principal: normalPrincipal(principal ?? ''), ...(organizationId !== undefined ? { organizationId } : {}) };
}

/** The fields a layer version shows in every operation (ListLayerVersions' items are these). */
function listItem(layers: LayerStore, r: LayerRef, v: LayerVersionRecord): Record<string, unknown> {
  return {
    LayerVersionArn: layers.arn(r, v.version), Version: v.version, Description: v.description, CreatedDate: lambdaTimestamp(v.createdMs),
    ...(v.compatibleRuntimes ? { CompatibleRuntimes: v.compatibleRuntimes } : {}),
    ...(v.licenseInfo !== undefined ? { LicenseInfo: v.licenseInfo } : {}),
    ...(v.compatibleArchitectures ? { CompatibleArchitectures: v.compatibleArchitectures } : {}),
  };
}

/** PublishLayerVersion's, GetLayerVersion's and GetLayerVersionByArn's answer. */
function layerVersionShape(layers: LayerStore, r: LayerRef, v: LayerVersionRecord): Record<string, unknown> {
  return {
    Content: { CodeSha256: Buffer.from(v.code.sha256, 'hex').toString('base64'), CodeSize: v.code.size },
    LayerArn: layerArn(r.region, r.accountId, r.name),
    ...listItem(layers, r, v),
  };
}

/**
 * A function's Layers as CreateFunction and UpdateFunctionConfiguration set them: each version
 * checked for the caller (see LayerStore.forFunction), and the function's code with its layers
 * within Lambda's unzipped size.
 */
export class FunctionLayers {
  constructor(private readonly deps: { layers: LayerStore; code: CodeStore; maxUnzippedBytes: number }) {}

  async resolve(caller: string, arns: string[], functionCode: Buffer | CodeRef): Promise<FunctionLayer[]> {
    const layers = await this.deps.layers.forFunction(caller, arns);
    await this.checkSize(layers, functionCode);
    return layers;
  }

  /** Lambda's 250 MB: the function's files and all its layers' together, unzipped. */
  async checkSize(layers: readonly FunctionLayer[], functionCode: Buffer | CodeRef): Promise<void> {
    if (layers.length === 0) return;
    const zip = Buffer.isBuffer(functionCode) ? functionCode : await this.deps.code.get(functionCode);
    const limit = this.deps.maxUnzippedBytes;
    const total = (await inspectZip(zip, { maxUnzippedBytes: limit })).unzippedBytes + layers.reduce((sum, l) => sum + l.unzippedBytes, 0);
    if (total > limit) {
      throw new StratusError('InvalidParameterValue', `Function code combined with layers exceeds the maximum allowed size of ${limit} bytes. The actual size is ${total} bytes.`);
    }
  }
}
