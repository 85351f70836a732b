import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CodeStore } from '../../codestore/index.js';
import { installationSecret, type DocumentStore } from '../../journal/index.js';
import type { FunctionRegistries } from '../../registry/index.js';
import type { Clock } from '../../shared/clock.js';
import type { ApiRequest, ApiResponse, Route } from '../http/index.js';

const LINK_TTL_MS = 10 * 60 * 1000;
const SECRET_KEY = 'code-links';

/**
 * GetFunction's `Code.Location`: a link to one account's code package, good for 10 minutes,
 * signed with the installation's link secret (kept in the journal, the same for every frontend
 * of a cluster, and no account's key). The link names its account: it serves only a package that
 * account's functions use, so a link (or a guessed digest) never reaches another account's code.
 */
export class CodeLinks {
  constructor(private readonly secret: string, private readonly clock: Clock) {}

  /** The link secret, made by the first process to need it (create-if-absent; the losers read the winner's). */
  static async open(store: DocumentStore, clock: Clock): Promise<CodeLinks> {
    return new CodeLinks(await installationSecret(store, SECRET_KEY), clock);
  }

  location(origin: string, accountId: string, sha256: string): string {
    const expires = this.clock.now() + LINK_TTL_MS;
    return `${origin}/_stratus/code/${accountId}/${sha256}?expires=${expires}&sig=${this.signature(accountId, sha256, expires)}`;
  }

  /** The download route: unsigned (the link carries its own signature). */
  routes(deps: { registries: FunctionRegistries; code: CodeStore }): Route[] {
    return [{
      method: 'GET', pattern: /^\/_stratus\/code\/(\d{12})\/([0-9a-f]{64})$/, body: 0, sigv4: false,
      handle: (req) => this.download(deps, req),
    }];
  }

  private async download(deps: { registries: FunctionRegistries; code: CodeStore }, req: ApiRequest): Promise<ApiResponse> {
    const [accountId = '', sha256 = ''] = req.params;
    const expires = Number(req.query.get('expires'));
    // Compared as the characters sent: a hex decoder would drop whatever follows the first non-hex one.
    const given = Buffer.from(req.query.get('sig') ?? '');
    const wanted = Buffer.from(this.signature(accountId, sha256, expires));
    if (!(expires > this.clock.now()) || given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
      return { status: 403, body: { message: 'Request has expired or its signature is invalid' } };
    }
    const size = deps.registries.existing(accountId)?.codeSize(sha256);
    if (size === undefined) return { status: 404, body: { message: 'Not found' } };
    const bytes = await deps.code.get({ sha256, size });
    return { status: 200, body: bytes, headers: { 'content-type': 'application/zip' } };
  }

  private signature(accountId: string, sha256: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${accountId}/${sha256}:${expires}`).digest('hex');
  }
}
