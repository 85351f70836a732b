import assert from 'node:assert/strict';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Another text for the same bytes: the last character of a 32-byte value in base64url (43
 * characters) carries 2 spare bits that a decoder drops. A MAC compared as decoded bytes would
 * take this changed token for the real one.
 */
export function spareBitsSet(mac: string): string {
  const changed = `${mac.slice(0, -1)}${ALPHABET[ALPHABET.indexOf(mac.at(-1) ?? 'A') | 1]}`;
  assert.deepEqual(Buffer.from(changed, 'base64url'), Buffer.from(mac, 'base64url'));
  assert.notEqual(changed, mac);
  return changed;
}
