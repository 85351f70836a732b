// Server-side verifier for AWS Signature Version 4 (AWS4-HMAC-SHA256) as produced by botocore
// (AWS CLI v2) and the AWS SDK for JavaScript v3 for non-S3 services: Authorization header or
// presigned query-string authentication.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface SignedRequest {
  method: string;
  /** Path + query exactly as received (e.g. IncomingMessage.url), still percent-encoded. */
  rawUrl: string;
  /** IncomingMessage.headers: lower-case names. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}
/** Returns the secret access key for an access key id, or undefined if unknown. */
export type CredentialLookup = (accessKeyId: string) => string | undefined;
export type VerifyFailureCode =
  | 'MissingAuthenticationToken' | 'IncompleteSignature' | 'UnrecognizedClient' | 'InvalidSignature' | 'SignatureExpired';
export type VerifyResult = { ok: true; accessKeyId: string } | { ok: false; code: VerifyFailureCode; message: string };
export interface VerifyOptions {
  service?: string;
  /** The installation's region: a credential scoped to another region is refused (absent: any). */
  region?: string;
  maxSkewMs?: number;
  /** Derived signing keys (one per secret, day, region and service), kept by the caller across requests. */
  signingKeys?: Map<string, Buffer>;
  /** X-Amz-Date values already read (a client's requests share one for a whole second), kept by the caller. */
  amzDates?: Map<string, number>;
}
type Failure = Extract<VerifyResult, { ok: false }>;

const ALGORITHM = 'AWS4-HMAC-SHA256';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** AWS's allowed clock skew: a signed request (or a replay of one) older or newer than this is refused. */
const DEFAULT_MAX_SKEW_MS = 5 * 60 * 1000;
const MAX_PRESIGN_EXPIRES_S = 7 * 24 * 3600;
const MSG_INVALID = 'The request signature we calculated does not match the signature you provided. '
  + 'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** What the client claimed, from its Authorization header or presign query parameters. */
interface AuthParams {
  presigned: boolean;
  credential: string; // AKID/yyyymmdd/region/service/aws4_request
  signedHeaders: string;
  signature: string;
  amzDate: string; // ISO 8601 basic format, as used in the string to sign
  dateMs: number | undefined; // undefined: unparseable
  expiresS?: number; // presigned only
}
type Parsed = { ok: true; auth: AuthParams } | Failure;
type Scope = { accessKeyId: string; date: string; region: string; service: string; terminator: string; dateMs: number };

const fail = (code: VerifyFailureCode, message: string): Failure => ({ ok: false, code, message });
const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

function headerValue(headers: SignedRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function splitUrl(rawUrl: string): { path: string; query: string } {
  const q = rawUrl.indexOf('?');
  return q < 0 ? { path: rawUrl, query: '' } : { path: rawUrl.slice(0, q), query: rawUrl.slice(q + 1) };
}

/** Percent-decodes to raw bytes; malformed escapes are kept literally and '+' stays '+'. */
function pctDecode(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const hex = bytes[i] === 0x25 ? bytes.subarray(i + 1, i + 3).toString('latin1') : '';
    if (/^[0-9a-fA-F]{2}$/.test(hex)) { out.push(parseInt(hex, 16)); i += 2; } else out.push(bytes[i] as number);
  }
  return Buffer.from(out);
}

/** RFC 3986: unreserved bytes (A-Z a-z 0-9 - . _ ~) stay, everything else becomes %XX. */
const ENCODED_BYTE = Array.from({ length: 256 }, (_, b) =>
  (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`));
function uriEncode(input: string | Buffer): string {
  let out = '';
  for (const b of typeof input === 'string' ? Buffer.from(input, 'utf8') : input) out += ENCODED_BYTE[b];
  return out;
}

/** A path of non-empty segments of unreserved characters only (no dot segment): its own canonical URI. */
const PLAIN_URI = /^(?:\/(?!\.{1,2}(?:\/|$))[A-Za-z0-9\-._~]+)+\/?$/;
/** Non-S3 canonical URI: drop empty and dot segments, then encode the still-encoded segments again. */
function canonicalUri(rawPath: string): string {
  // The common case (every segment plain, as the Lambda API's paths are): encoding changes nothing.
  if (PLAIN_URI.test(rawPath)) return rawPath;
  const segments: string[] = [];
  for (const seg of rawPath.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') segments.pop(); else segments.push(uriEncode(seg));
  }
  return `/${segments.join('/')}${segments.length > 0 && rawPath.endsWith('/') ? '/' : ''}`;
}

/** Decoded key/value byte pairs of a raw query string, in order. */
function queryPairs(rawQuery: string): Array<[Buffer, Buffer]> {
  if (rawQuery === '') return [];
  return rawQuery.split('&').filter((p) => p !== '').map((p) => {
    const eq = p.indexOf('=');
    return eq < 0 ? [pctDecode(p), Buffer.alloc(0)] : [pctDecode(p.slice(0, eq)), pctDecode(p.slice(eq + 1))];
  });
}

function canonicalQuery(pairs: Array<[Buffer, Buffer]>, presigned: boolean): string {
  const encoded = pairs
    .filter(([k]) => !(presigned && k.toString('utf8') === 'X-Amz-Signature'))
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const);
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  encoded.sort((a, b) => cmp(a[0], b[0]) || cmp(a[1], b[1]));
  return encoded.map(([k, v]) => `${k}=${v}`).join('&');
}

/** A header value with nothing to trim: no whitespace but single spaces between other characters. */
const PLAIN_VALUE = /^(?:[^\s]+(?: [^\s]+)*)?$/;
function canonicalHeaderLines(headers: SignedRequest['headers'], signed: string[]): string {
  const trimAll = (s: string): string => (PLAIN_VALUE.test(s) ? s : s.trim().replace(/\s+/g, ' '));
  return signed.map((name) => {
    const v = headers[name.toLowerCase()];
    return `${name}:${Array.isArray(v) ? v.map(trimAll).join(',') : trimAll(v ?? '')}\n`;
  }).join('');
}

function parseAmzDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, se);
  return new Date(ms).getUTCDate() === d ? ms : undefined;
}
/** parseAmzDate, remembered in `cache` (a pure function of the text; the cache is bounded). */
function amzDateMs(s: string, cache: Map<string, number> | undefined): number | undefined {
  const known = cache?.get(s);
  if (known !== undefined) return known;
  const ms = parseAmzDate(s);
  if (ms !== undefined && cache) {
    if (cache.size >= 64) cache.clear();
    cache.set(s, ms);
  }
  return ms;
}
const toAmzDate = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

function parseAuthorizationHeader(value: string, headers: SignedRequest['headers'], amzDates: Map<string, number> | undefined): Parsed {
  // The algorithm, then (past any whitespace) the parameters.
  const trimmed = value.trim();
  const space = trimmed.search(/\s/);
  const algorithm = space < 0 ? trimmed : trimmed.slice(0, space);
  if (algorithm !== ALGORITHM) return fail('IncompleteSignature', `Unsupported AWS 'algorithm': '${algorithm}'`);
  const params = new Map<string, string>();
  for (const part of (space < 0 ? '' : trimmed.slice(space).trimStart()).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const xAmzDate = headerValue(headers, 'x-amz-date')?.trim();
  const httpDate = headerValue(headers, 'date')?.trim();
  const problems = ['Credential', 'Signature', 'SignedHeaders']
    .filter((k) => !params.get(k)).map((k) => `Authorization header requires '${k}' parameter.`);
  if (xAmzDate === undefined && httpDate === undefined) {
    problems.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  if (problems.length > 0) return fail('IncompleteSignature', problems.join(' '));
  // Without X-Amz-Date the HTTP Date header is used; the string to sign still carries ISO 8601 basic format.
  let dateMs = xAmzDate !== undefined ? amzDateMs(xAmzDate, amzDates) : Date.parse(httpDate ?? '');
  if (Number.isNaN(dateMs)) dateMs = undefined;
  const amzDate = xAmzDate ?? (dateMs !== undefined ? toAmzDate(dateMs) : httpDate ?? '');
  const get = (k: string): string => params.get(k) ?? '';
  return { ok: true, auth: {
    presigned: false, credential: get('Credential'), signedHeaders: get('SignedHeaders'), signature: get('Signature'), amzDate, dateMs,
  } };
}

function parsePresignedQuery(pairs: Array<[Buffer, Buffer]>): Parsed {
  const names = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Expires'];
  const values = (n: string): string[] => pairs.filter(([k]) => k.toString('utf8') === n).map(([, v]) => v.toString('utf8'));
  const get = (n: string): string => values(n)[0] ?? '';
  const missing = names.filter((n) => get(n) === '').map((n) => `'${n}'`);
  if (missing.length > 0) return fail('IncompleteSignature', `AWS query-string parameters must include ${missing.join(', ')}.`);
  if (names.some((n) => values(n).length > 1)) return fail('IncompleteSignature', 'Presign query parameters must not be repeated.');
  if (get('X-Amz-Algorithm') !== ALGORITHM) return fail('IncompleteSignature', `Unsupported AWS 'algorithm': '${get('X-Amz-Algorithm')}'`);
  const expires = get('X-Amz-Expires');
  if (!/^\d{1,7}$/.test(expires) || Number(expires) > MAX_PRESIGN_EXPIRES_S) {
    return fail('IncompleteSignature', `X-Amz-Expires must be an integer from 0 to ${MAX_PRESIGN_EXPIRES_S} (one week), got '${expires}'.`);
  }
  const amzDate = get('X-Amz-Date');
  return { ok: true, auth: {
    presigned: true, credential: get('X-Amz-Credential'), signedHeaders: get('X-Amz-SignedHeaders'), signature: get('X-Amz-Signature'),
    amzDate, dateMs: parseAmzDate(amzDate), expiresS: Number(expires),
  } };
}

/** Credential scope shape, service, terminator, date and the signed header list. */
function checkScope(auth: AuthParams, service: string, installationRegion: string | undefined): Scope | Failure {
  const { dateMs } = auth;
  const parts = auth.credential.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '')) {
    return fail('IncompleteSignature', 'Credential must have exactly 5 slash-delimited elements, '
      + `e.g. keyid/date/region/service/term, got '${auth.credential}'`);
  }
  if (dateMs === undefined) return fail('IncompleteSignature', `Date must be in ISO-8601 'basic format'. Got '${auth.amzDate}'.`);
  if (!auth.signedHeaders.split(';').some((n) => n.toLowerCase() === 'host')) {
    return fail('IncompleteSignature', "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  const [accessKeyId, date, region, svc, terminator] = parts as [string, string, string, string, string];
  if (svc !== service) return fail('InvalidSignature', `Credential should be scoped to correct service: '${service}'. `);
  if (installationRegion !== undefined && region !== installationRegion) {
    return fail('InvalidSignature', `Credential should be scoped to a valid region, not '${region}'. `);
  }
  if (terminator !== 'aws4_request') {
    return fail('InvalidSignature', `Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'. `);
  }
  const day = auth.amzDate.slice(0, 8);
  if (date !== day) {
    return fail('InvalidSignature', 'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '
      + `'${date}' != '${day}', from '${auth.amzDate}'.`);
  }
  return { accessKeyId, date, region, service: svc, terminator, dateMs };
}

function checkTime(auth: AuthParams, dateMs: number, nowMs: number, maxSkewMs: number): Failure | undefined {
  const { amzDate, expiresS } = auth;
  // Only a refusal's message needs the dates written out.
  if (dateMs - nowMs <= maxSkewMs && (expiresS !== undefined ? nowMs <= dateMs + expiresS * 1000 : nowMs - dateMs <= maxSkewMs)) return undefined;
  const [now, mins] = [toAmzDate(nowMs), `${Math.round(maxSkewMs / 60000)} min.`];
  if (dateMs - nowMs > maxSkewMs) {
    const limit = toAmzDate(nowMs + maxSkewMs);
    return fail('SignatureExpired', `Signature not yet current: ${amzDate} is still later than ${limit} (${now} + ${mins})`);
  }
  if (expiresS !== undefined) { // presigned: valid from X-Amz-Date for X-Amz-Expires seconds
    const expiryMs = dateMs + expiresS * 1000;
    if (nowMs <= expiryMs) return undefined;
    return fail('SignatureExpired', `Signature expired: ${toAmzDate(expiryMs)} is now earlier than ${now} (${amzDate} + ${expiresS} sec.)`);
  }
  if (nowMs - dateMs <= maxSkewMs) return undefined;
  return fail('SignatureExpired', `Signature expired: ${amzDate} is now earlier than ${toAmzDate(nowMs - maxSkewMs)} (${now} - ${mins})`);
}

/** Payload hashes the client may have signed with, or a failure if the declared hash contradicts the body. */
function payloadCandidates(req: SignedRequest, presigned: boolean): string[] | Failure {
  const declared = headerValue(req.headers, 'x-amz-content-sha256')?.trim();
  const bodyHash = sha256Hex(req.body);
  // Presigned: S3-style signers commit to UNSIGNED-PAYLOAD, botocore/SDK v3 non-S3 presigners to the body hash.
  if (declared === undefined) return presigned ? [UNSIGNED_PAYLOAD, bodyHash] : [bodyHash];
  if (declared === UNSIGNED_PAYLOAD) return [declared];
  if (!/^[0-9a-fA-F]{64}$/.test(declared)) return fail('InvalidSignature', `Unsupported x-amz-content-sha256 value '${declared}'.`);
  if (declared.toLowerCase() !== bodyHash) {
    return fail('InvalidSignature', "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  return [declared];
}

/** The SigV4 signing key: four HMACs, the same all day for a secret, so a cache may keep it. */
function signingKey(secret: string, scope: Scope, cache: Map<string, Buffer> | undefined): Buffer {
  const { date, region, service, terminator } = scope;
  const id = `${date}/${region}/${service}/${terminator}/${secret}`;
  let key = cache?.get(id);
  if (!key) {
    key = [date, region, service, terminator].reduce<Buffer>((k, part) => hmac(k, part), Buffer.from(`AWS4${secret}`, 'utf8'));
    if (cache && cache.size >= 64) cache.clear();
    cache?.set(id, key);
  }
  return key;
}

function computeSignature(req: SignedRequest, auth: AuthParams, scope: Scope, key: Buffer, payloadHash: string): Buffer {
  const { path, query } = splitUrl(req.rawUrl);
  const signedHeaders = auth.signedHeaders.split(';');
  const canonicalRequest = [
    req.method.toUpperCase(), canonicalUri(path), canonicalQuery(queryPairs(query), auth.presigned),
    canonicalHeaderLines(req.headers, signedHeaders), signedHeaders.join(';'), payloadHash,
  ].join('\n');
  const { date, region, service, terminator } = scope;
  const stringToSign = [ALGORITHM, auth.amzDate, `${date}/${region}/${service}/${terminator}`, sha256Hex(canonicalRequest)].join('\n');
  return hmac(key, stringToSign);
}

function parseRequestAuth(req: SignedRequest, amzDates: Map<string, number> | undefined): Parsed {
  const pairs = queryPairs(splitUrl(req.rawUrl).query);
  const presigned = pairs.some(([k]) => ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature'].includes(k.toString('utf8')));
  const authorization = headerValue(req.headers, 'authorization');
  if (authorization !== undefined && presigned) {
    return fail('IncompleteSignature', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter '
      + 'or the Authorization header should be specified');
  }
  if (authorization !== undefined) return parseAuthorizationHeader(authorization, req.headers, amzDates);
  if (presigned) return parsePresignedQuery(pairs);
  return fail('MissingAuthenticationToken', 'Missing Authentication Token');
}

export function verifySigV4(req: SignedRequest, lookup: CredentialLookup, nowMs: number, opts: VerifyOptions = {}): VerifyResult {
  const parsed = parseRequestAuth(req, opts.amzDates);
  if (!parsed.ok) return parsed;
  const { auth } = parsed;
  const scope = checkScope(auth, opts.service ?? 'lambda', opts.region);
  if ('ok' in scope) return scope;
  const expired = checkTime(auth, scope.dateMs, nowMs, opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS);
  if (expired) return expired;
  const secret = lookup(scope.accessKeyId);
  if (secret === undefined) return fail('UnrecognizedClient', 'The security token included in the request is invalid.');
  if (!/^[0-9a-f]{64}$/.test(auth.signature)) return fail('InvalidSignature', MSG_INVALID);
  const candidates = payloadCandidates(req, auth.presigned);
  if (!Array.isArray(candidates)) return candidates;
  const provided = Buffer.from(auth.signature, 'hex');
  const key = signingKey(secret, scope, opts.signingKeys);
  let match = false;
  for (const payloadHash of candidates) {
    if (timingSafeEqual(computeSignature(req, auth, scope, key, payloadHash), provided)) match = true;
  }
  return match ? { ok: true, accessKeyId: scope.accessKeyId } : fail('InvalidSignature', MSG_INVALID);
}
