import { createHash, timingSafeEqual } from 'node:crypto';

/** The sha256 (hex) of a secret: what is kept of a credential, and what a worker holds of the control plane's. */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Whether `secret` is the one whose hash is `hashHex` (constant time). */
export function secretMatchesHash(secret: string, hashHex: string): boolean {
  const given = createHash('sha256').update(secret).digest();
  const wanted = Buffer.from(hashHex, 'hex');
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** The token of `Authorization: Bearer <token>` (undefined without one). */
export function bearerToken(authorization: string | undefined): string | undefined {
  const m = /^Bearer ([\x21-\x7e]{1,1024})$/.exec(authorization ?? '');
  return m?.[1];
}
