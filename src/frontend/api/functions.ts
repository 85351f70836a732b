import type { CodeStore } from '../../codestore/index.js';
import {
  APPLICATION_LOG_LEVELS, applyLogging, defaultLogging, LOG_FORMATS, loggingOf, SYSTEM_LOG_LEVELS,
  type FunctionRecord, type FunctionRegistry, type FunctionSettings, type LoggingInput,
} from '../../registry/index.js';
import { StratusError } from '../../shared/errors.js';
import { type ApiRequest, type ApiResponse, FUNCTION_NAME_PATTERN, parseFunctionRef, parseJsonObject, qualifierOf, type Route, Validator, pathParam } from '../http/index.js';
import {
  checkCodeUpdate, checkPackageFields, checkSettingsUpdate, imageCodeLocation, importImage, readImageConfig, readPackageType, type ImageSourceImporter,
} from './function-images.js';
import type { CodeLinks } from './code-links.js';
import type { FunctionLayers } from './layers.js';
import { functionConfiguration, LAMBDA_RUNTIMES, listItem } from './shapes.js';
import { checkDeadLetter, readDeadLetter, refuseUnsupported, UNSUPPORTED_CODE, UNSUPPORTED_CONFIGURATION, unqualifiedName } from './strict.js';

export interface FunctionRoutesDeps {
  registry: FunctionRegistry;
  code: CodeStore;
  /** Pulls, flattens and chunks container images (PackageType Image). */
  images: ImageSourceImporter;
  region: string;
  /** GetFunction's signed code download links. */
  links: CodeLinks;
  maxZipBytes: number;
  clock: { now(): number };
  /** Layers (create, update): checked for this registry's account (absent: a function's Layers are refused). */
  layers?: FunctionLayers;
}

const NAME = '([^/]+)';
const BASE = '/2015-03-31/functions';
const ROLE_PATTERN = /^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/;
const HANDLER_PATTERN = /^[^\s]+$/;
const NAME_PATTERN = /^[a-zA-Z0-9_-]+$/;
const LOG_GROUP_PATTERN = /^[.\-_/#A-Za-z0-9]+$/;

/** The function management API: create, read, list, update, delete (a version with a qualifier). */
export function functionRoutes(deps: FunctionRoutesDeps): Route[] {
  const bodyLimit = Math.ceil((deps.maxZipBytes * 4) / 3) + 1024 * 1024;
  const tooLarge = (op: string) => `Request must be smaller than ${bodyLimit} bytes for the ${op} operation`;
  const config = (fn: FunctionRecord) => functionConfiguration(fn, deps.registry.functionArn(fn.name), deps.region);
  const nameOf = unqualifiedName;
  /** $LATEST, a version or an alias, as named by the path or ?Qualifier=. */
  const describe = (req: ApiRequest) => {
    const ref = parseFunctionRef(pathParam(req, 0));
    const { fn, arn } = deps.registry.describe(ref.name, qualifierOf(ref, req.query));
    return { fn, config: functionConfiguration(fn, arn, deps.region) };
  };
  const small = { body: 1024 * 1024, tooLargeMessage: tooLarge('function'), sigv4: true };
  return [
    { method: 'POST', pattern: re(`${BASE}/?`), body: bodyLimit, tooLargeMessage: tooLarge('CreateFunction'), sigv4: true,
      handle: async (req) => ({ status: 201, body: await create(deps, req, config) }) },
    { method: 'GET', pattern: re(`${BASE}/?`), ...small, handle: (req) => list(deps, req, config) },
    { method: 'GET', pattern: re(`${BASE}/${NAME}/?`), ...small,
      handle: (req) => ({ status: 200, body: getFunction(deps, req, describe(req)) }) },
    { method: 'GET', pattern: re(`${BASE}/${NAME}/configuration/?`), ...small,
      handle: (req) => ({ status: 200, body: describe(req).config }) },
    { method: 'PUT', pattern: re(`${BASE}/${NAME}/configuration/?`), ...small,
      handle: async (req) => ({ status: 200, body: config(await updateConfiguration(deps, nameOf(req), req)) }) },
    { method: 'PUT', pattern: re(`${BASE}/${NAME}/code/?`), body: bodyLimit, tooLargeMessage: tooLarge('UpdateFunctionCode'), sigv4: true,
      handle: async (req) => ({ status: 200, body: await updateCode(deps, nameOf(req), req, config) }) },
    { method: 'DELETE', pattern: re(`${BASE}/${NAME}/?`), ...small,
      handle: async (req) => {
        const ref = parseFunctionRef(pathParam(req, 0));
        await deps.registry.delete(ref.name, qualifierOf(ref, req.query));
        return { status: 204 };
      } },
  ];
}

function re(path: string): RegExp {
  return new RegExp(`^${path}$`);
}

async function create(deps: FunctionRoutesDeps, req: ApiRequest, config: (fn: FunctionRecord) => Record<string, unknown>): Promise<Record<string, unknown>> {
  const body = parseJsonObject(req.body);
  const v = new Validator(body);
  const name = v.string('FunctionName', 'functionName', { required: true, min: 1, max: 140, pattern: NAME_PATTERN, patternText: FUNCTION_NAME_PATTERN });
  const code = v.object('Code', 'code');
  const settings = readSettings(v, body, true);
  const tags = v.tagMap('Tags', 'tags');
  const publish = v.boolean('Publish', 'publish');
  const packageType = readPackageType(v);
  const imageConfig = readImageConfig(v);
  const logging = readLogging(v);
  const layerArns = v.stringList('Layers', 'layers', 1000);
  v.done();
  refuseUnsupported(body, UNSUPPORTED_CONFIGURATION);
  refuseUnsupported(code ?? {}, UNSUPPORTED_CODE);
  checkDeadLetter(deps.registry, settings.deadLetterTargetArn, name ?? '');
  if (name && name.length > 64) {
    throw new StratusError('InvalidParameterValue', `1 validation error detected: Value '${name}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64`);
  }
  checkPackageFields(packageType, body, code);
  const loggingConfig = applyLogging(defaultLogging(name ?? ''), logging ?? {});
  const full = { ...settings, ...(imageConfig ? { imageConfig } : {}), loggingConfig } as FunctionSettings;
  deps.registry.checkCreatable(name ?? '', full, packageType === 'Image');
  const source = packageType === 'Image' ? await importImage(deps.images, code?.ImageUri) : decodeZip(code?.ZipFile, deps.maxZipBytes);
  const layers = layerArns && Buffer.isBuffer(source) ? { layers: await layersOf(deps, layerArns, source) } : {};
  const fn = await deps.registry.create(name ?? '', { ...full, ...layers }, source, tags);
  if (!publish) return config(fn);
  // Lambda answers a create with Publish with the new version, under the unqualified ARN.
  return { ...config(await deps.registry.publish(fn.name)), FunctionArn: deps.registry.functionArn(fn.name) };
}

async function updateConfiguration(deps: FunctionRoutesDeps, name: string, req: ApiRequest): Promise<FunctionRecord> {
  const body = parseJsonObject(req.body);
  const v = new Validator(body);
  const patch = readSettings(v, body, false);
  const imageConfig = readImageConfig(v);
  const logging = readLogging(v);
  const revision = v.string('RevisionId', 'revisionId');
  const layerArns = v.stringList('Layers', 'layers', 1000);
  v.done();
  refuseUnsupported(body, UNSUPPORTED_CONFIGURATION);
  checkDeadLetter(deps.registry, patch.deadLetterTargetArn, name);
  const current = deps.registry.get(name);
  checkSettingsUpdate(current, body);
  const loggingConfig = logging ? applyLogging(loggingOf(current), logging) : undefined;
  const layers = layerArns ? { layers: await layersOf(deps, layerArns, current.code) } : {};
  return deps.registry.updateSettings(name, { ...patch, ...(imageConfig ? { imageConfig } : {}), ...(loggingConfig ? { loggingConfig } : {}), ...layers }, revision);
}

/** Layers as given, checked for the registry's account with the function's code (see layers.ts). */
function layersOf(deps: FunctionRoutesDeps, arns: string[], code: Parameters<FunctionLayers['resolve']>[2]) {
  if (!deps.layers) throw new StratusError('InvalidParameterValue', 'Layers are not supported by this Stratus installation.');
  return deps.layers.resolve(deps.registry.accountId, arns, code);
}

/** LoggingConfig: { LogFormat, ApplicationLogLevel, SystemLogLevel, LogGroup }, each optional. */
function readLogging(v: Validator): LoggingInput | undefined {
  const given = v.object('LoggingConfig', 'loggingConfig');
  if (!given) return undefined;
  const c = v.within(given);
  return {
    logFormat: c.string('LogFormat', 'loggingConfig.logFormat', { enum: LOG_FORMATS }) as LoggingInput['logFormat'],
    applicationLogLevel: c.string('ApplicationLogLevel', 'loggingConfig.applicationLogLevel', { enum: APPLICATION_LOG_LEVELS }) as LoggingInput['applicationLogLevel'],
    systemLogLevel: c.string('SystemLogLevel', 'loggingConfig.systemLogLevel', { enum: SYSTEM_LOG_LEVELS }) as LoggingInput['systemLogLevel'],
    logGroup: c.string('LogGroup', 'loggingConfig.logGroup', { min: 1, max: 512, pattern: LOG_GROUP_PATTERN, patternText: '[\\.\\-_/#A-Za-z0-9]+' }),
  };
}

async function updateCode(deps: FunctionRoutesDeps, name: string, req: ApiRequest, config: (fn: FunctionRecord) => Record<string, unknown>): Promise<Record<string, unknown>> {
  const body = parseJsonObject(req.body);
  const v = new Validator(body);
  const revision = v.string('RevisionId', 'revisionId');
  const publish = v.boolean('Publish', 'publish');
  v.done();
  const current = deps.registry.get(name);
  checkCodeUpdate(current, body);
  refuseUnsupported(body, UNSUPPORTED_CODE);
  const source = current.image ? await importImage(deps.images, body.ImageUri) : decodeZip(body.ZipFile, deps.maxZipBytes);
  if (Buffer.isBuffer(source) && current.layers?.length) await deps.layers?.checkSize(current.layers, source);
  const fn = await deps.registry.updateCode(name, source, revision);
  if (!publish) return config(fn);
  const version = await deps.registry.publish(name);
  return functionConfiguration(version, deps.registry.qualifiedArn(name, version.version), deps.region);
}

/** The settable fields; on create the defaults apply, on update only what was given. */
function readSettings(v: Validator, body: Record<string, unknown>, isCreate: boolean): Partial<FunctionSettings> {
  const runtime = v.string('Runtime', 'runtime');
  if (runtime !== undefined) checkRuntime(runtime);
  const role = v.string('Role', 'role', { required: isCreate, pattern: ROLE_PATTERN, patternText: 'arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+' });
  const handler = v.string('Handler', 'handler', { max: 128, pattern: HANDLER_PATTERN, patternText: '[^\\s]+' });
  const description = v.string('Description', 'description', { max: 256 });
  const timeoutSec = v.integer('Timeout', 'timeout', 1, 900);
  const memoryMb = v.integer('MemorySize', 'memorySize', 128, 10240);
  const storage = v.object('EphemeralStorage', 'ephemeralStorage');
  const environment = v.stringMap(v.object('Environment', 'environment')?.Variables, 'environment.variables');
  const ephemeralStorageMb = storage ? v.within(storage).integer('Size', 'ephemeralStorage.size', 512, 10240, { required: true }) : undefined;
  const snapStart = readSnapStart(v.object('SnapStart', 'snapStart'));
  const deadLetter = readDeadLetter(v);
  const given: Partial<FunctionSettings> = {
    runtime: runtime as FunctionSettings['runtime'] | undefined, role, handler, description, timeoutSec, memoryMb, ephemeralStorageMb, snapStart,
    environment: environment ?? (body.Environment !== undefined ? {} : undefined),
    // Lambda echoes an Environment that was given, even as an empty map.
    environmentShown: body.Environment !== undefined && body.Environment !== null ? true : undefined,
    // '' (DeadLetterConfig {} or TargetArn '') removes it.
    deadLetterTargetArn: deadLetter,
  };
  const defined = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)) as Partial<FunctionSettings>;
  return isCreate ? { description: '', timeoutSec: 3, memoryMb: 128, ephemeralStorageMb: 512, environment: {}, ...defined } : defined;
}

/** SnapStart: { ApplyOn: PublishedVersions | None }. */
function readSnapStart(value: Record<string, unknown> | undefined): FunctionSettings['snapStart'] {
  if (!value) return undefined;
  const applyOn = new Validator(value).string('ApplyOn', 'snapStart.applyOn') ?? 'None';
  if (applyOn !== 'PublishedVersions' && applyOn !== 'None') {
    throw new StratusError('Validation', `1 validation error detected: Value '${applyOn}' at 'snapStart.applyOn' failed to satisfy constraint: Member must satisfy enum value set: [PublishedVersions, None]`);
  }
  return applyOn;
}

function checkRuntime(runtime: string): void {
  if (!(LAMBDA_RUNTIMES as readonly string[]).includes(runtime)) {
    throw new StratusError('InvalidParameterValue', `Value ${runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [${LAMBDA_RUNTIMES.join(', ')}] or be a valid ARN`);
  }
}

function decodeZip(value: unknown, maxZipBytes: number): Buffer {
  if (typeof value !== 'string' || value.length === 0) {
    throw new StratusError('InvalidParameterValue', 'Please provide a source for function code.');
  }
  const zip = Buffer.from(value, 'base64');
  if (zip.length > maxZipBytes) {
    throw new StratusError('RequestTooLarge', `Zipped size must be smaller than ${maxZipBytes} bytes`);
  }
  return zip;
}

/** ListFunctions; with FunctionVersion=ALL each function's published versions follow its $LATEST. */
function list(deps: FunctionRoutesDeps, req: ApiRequest, config: (fn: FunctionRecord) => Record<string, unknown>): ApiResponse {
  const all = req.query.get('FunctionVersion');
  if (all !== null && all !== 'ALL') {
    throw new StratusError('Validation', `1 validation error detected: Value '${all}' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]`);
  }
  const maxItems = Math.min(Math.max(Number(req.query.get('MaxItems') ?? 50) || 50, 1), 50);
  const marker = req.query.get('Marker');
  const { functions: page, more } = deps.registry.page(marker || undefined, maxItems);
  const versionsOf = (fn: FunctionRecord) => (all === 'ALL' ? deps.registry.versions.list(fn.name) : [])
    .map((v) => functionConfiguration(v, deps.registry.qualifiedArn(fn.name, v.version), deps.region));
  const Functions = page.flatMap((fn) => [config(fn), ...versionsOf(fn)]).map(listItem);
  return { status: 200, body: more ? { Functions, NextMarker: page.at(-1)?.name } : { Functions } };
}

function getFunction(deps: FunctionRoutesDeps, req: ApiRequest, described: { fn: FunctionRecord; config: Record<string, unknown> }): unknown {
  const { fn, config } = described;
  const location = deps.links.location(req.origin, deps.registry.accountId, fn.code.sha256);
  const out: Record<string, unknown> = { Configuration: config, Code: imageCodeLocation(fn) ?? { RepositoryType: 'S3', Location: location } };
  const { tags, reservedConcurrency } = deps.registry.get(fn.name);
  if (tags && Object.keys(tags).length > 0) out.Tags = tags;
  if (reservedConcurrency !== undefined) out.Concurrency = { ReservedConcurrentExecutions: reservedConcurrency };
  return out;
}

