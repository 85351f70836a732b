import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { installationSecret, type DocumentStore } from '../journal/index.js';
import type { Clock } from '../shared/clock.js';
import { invalidParameter } from './params.js';

/** CloudWatch's pagination tokens expire after 24 hours. */
const TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
const SECRET_KEY = 'logs-page-tokens';
const MAX_TOKEN_LENGTH = 2048;

/** What a token is good for: one operation of one account on one group, with the same query. */
export interface TokenScope {
  operation: string;
  accountId: string;
  group: string;
  /** The request's other parameters that a page depends on (stream names, times, pattern...). */
  query: unknown;
}

/** A position in a group's events, as the store orders them. */
export interface EventPosition {
  timestamp: number;
  id: string;
}

/**
 * Opaque pagination tokens: a cursor and its expiry, with an HMAC over them and the token's
 * scope (operation, account, group and query). A token used by another account, on another
 * group or with another query, a forged, altered or expired one, is refused with CloudWatch's
 * "The specified nextToken is invalid." The secret is the installation's (in the journal, the
 * same in every frontend of a cluster), so a token from one frontend is good at another.
 */
export class PageTokens {
  constructor(private readonly secret: Buffer, private readonly clock: Clock) {}

  /** The installation's token secret, made by the first process to need it (create-if-absent). */
  static async open(store: DocumentStore, clock: Clock): Promise<PageTokens> {
    return new PageTokens(Buffer.from(await installationSecret(store, SECRET_KEY), 'base64url'), clock);
  }

  issue(scope: TokenScope, cursor: Record<string, unknown>): string {
    const body = Buffer.from(JSON.stringify({ ...cursor, exp: this.clock.now() + TOKEN_TTL_MS })).toString('base64url');
    return `${body}.${this.mac(scope, body).toString('base64url')}`;
  }

  /** The cursor of a token issued for `scope`; InvalidParameterException for anything else. */
  read<T>(scope: TokenScope, token: string, parse: (cursor: Record<string, unknown>) => T | undefined): T {
    const refuse = () => invalidParameter('The specified nextToken is invalid.');
    const [body, mac, extra] = token.length <= MAX_TOKEN_LENGTH ? token.split('.') : [];
    if (body === undefined || mac === undefined || extra !== undefined) throw refuse();
    // The token's own characters, not its decoded bytes (a decoder drops the last character's spare bits).
    const given = Buffer.from(mac);
    const expected = Buffer.from(this.mac(scope, body).toString('base64url'));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refuse();
    let cursor: unknown;
    try {
      cursor = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      throw refuse();
    }
    if (typeof cursor !== 'object' || cursor === null) throw refuse();
    const c = cursor as Record<string, unknown>;
    if (typeof c.exp !== 'number' || c.exp < this.clock.now()) throw refuse();
    const parsed = parse(c);
    if (parsed === undefined) throw refuse();
    return parsed;
  }

  private mac(scope: TokenScope, body: string): Buffer {
    const query = createHash('sha256').update(JSON.stringify(scope.query ?? null)).digest('hex');
    return createHmac('sha256', this.secret)
      .update(JSON.stringify([scope.operation, scope.accountId, scope.group, query, body]))
      .digest();
  }
}

/** An event position read back from a cursor field (undefined if it is not one). */
export function positionIn(value: unknown): EventPosition | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { timestamp, id } = value as Record<string, unknown>;
  return typeof timestamp === 'number' && Number.isSafeInteger(timestamp) && typeof id === 'string' ? { timestamp, id } : undefined;
}
