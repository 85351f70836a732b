import { join } from 'node:path';
import { StratusError } from '../shared/errors.js';

const ACCOUNT_ID = /^\d{12}$/;

/**
 * The worker's caches (zip code, SnapStart snapshots, image mounts, image chunks) keep each
 * account's part under `<root>/<accountId>/`: nothing built or fetched for one account is ever
 * used for another, even for the same digest.
 */
export function checkedAccountId(accountId: string): string {
  if (!ACCOUNT_ID.test(accountId)) throw new StratusError('Internal', `malformed account id ${JSON.stringify(accountId)}`);
  return accountId;
}

/** `<root>/<accountId>`: the part of a worker cache that belongs to one account (the id is checked: it names a directory). */
export function accountDir(root: string, accountId: string): string {
  return join(root, checkedAccountId(accountId));
}

/** Whether a name under a cache root is an account's directory (anything else is scratch, or a leftover of an older layout). */
export function isAccountDir(name: string): boolean {
  return ACCOUNT_ID.test(name);
}
