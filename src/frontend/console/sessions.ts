import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { installationSecret, type DocumentStore } from '../../journal/index.js';
import type { Clock } from '../../shared/clock.js';
import type { KeyLookup } from '../http/index.js';

/** The journal document (in `clusterSecrets`) holding the console's signing secret. */
const SECRET_KEY = 'console-sessions';
/** How long a sign-in lasts. */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;

/** A signed-in console user: the access key it signed in with, and that key's account. */
export interface ConsoleSession {
  accessKeyId: string;
  accountId: string;
  expiresMs: number;
}

interface TokenPayload {
  k: string;
  a: string;
  e: number;
}

/**
 * Console sign-in with an access key, and the session tokens it issues: `v1.<payload>.<mac>`,
 * the payload (key id, account, expiry) in base64url and an HMAC-SHA256 over it and a digest of
 * the key's secret, under the installation's console secret (kept in the journal, the same for
 * every frontend of a cluster and across restarts, and no account's key). A token is good only
 * while its key exists with the same secret and account: deleting or rotating the key ends its
 * sessions, which every request re-checks.
 */
export class ConsoleSessions {
  constructor(private readonly secret: string, private readonly clock: Clock) {}

  /** The console secret, made by the first process to need it (create-if-absent; the losers read the winner's). */
  static async open(store: DocumentStore, clock: Clock): Promise<ConsoleSessions> {
    return new ConsoleSessions(await installationSecret(store, SECRET_KEY), clock);
  }

  /** A token for a correct key id and secret (compared in constant time); undefined otherwise. */
  signIn(keys: KeyLookup, accessKeyId: string, secretAccessKey: string): { token: string; session: ConsoleSession } | undefined {
    const key = keys(accessKeyId);
    // A missing key is compared against a digest of its own too, so both failures take the same path.
    const wanted = digest(key?.secretAccessKey ?? `\0missing\0${accessKeyId}`);
    const same = timingSafeEqual(digest(secretAccessKey), wanted);
    if (!key || !same) return undefined;
    const session = { accessKeyId, accountId: key.accountId, expiresMs: this.clock.now() + SESSION_TTL_MS };
    const payload = Buffer.from(JSON.stringify({ k: accessKeyId, a: key.accountId, e: session.expiresMs } satisfies TokenPayload)).toString('base64url');
    return { token: `v1.${payload}.${this.mac(payload, key.secretAccessKey)}`, session };
  }

  /** The session a token carries, if its MAC is right, it has not expired and its key still exists unchanged. */
  verify(keys: KeyLookup, token: string | undefined): ConsoleSession | undefined {
    const [version, payload, mac, ...rest] = (token ?? '').split('.');
    if (version !== 'v1' || !payload || !mac || rest.length > 0) return undefined;
    const claims = parsePayload(payload);
    const key = claims && keys(claims.k);
    if (!claims || !key) return undefined;
    // The token's own characters: base64url's last character carries bits a decoder drops, so
    // decoded bytes would take a changed token (its last 'A' made a 'B') as the real one.
    const given = Buffer.from(mac);
    const wanted = Buffer.from(this.mac(payload, key.secretAccessKey));
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return undefined;
    if (key.accountId !== claims.a || !(claims.e > this.clock.now())) return undefined;
    return { accessKeyId: claims.k, accountId: claims.a, expiresMs: claims.e };
  }

  private mac(payload: string, keySecret: string): string {
    return createHmac('sha256', this.secret).update(payload).update('\n').update(digest(keySecret)).digest('base64url');
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function parsePayload(payload: string): TokenPayload | undefined {
  try {
    const value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<TokenPayload>;
    return typeof value.k === 'string' && typeof value.a === 'string' && typeof value.e === 'number' ? { k: value.k, a: value.a, e: value.e } : undefined;
  } catch {
    return undefined;
  }
}
