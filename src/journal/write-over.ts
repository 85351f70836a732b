import { randomUUID } from 'node:crypto';
import type { DocumentStore, Leadership, StoredDocument } from './journal.js';

/**
 * Writes `value` under `key` over `current`, the document read there before (undefined: none):
 * a create, or a replace at the revision read. Resolves false, writing nothing, if the key changed
 * since (or, with `fence`, the leadership is lost).
 */
export function writeOver(store: DocumentStore, key: string, current: StoredDocument | undefined, value: unknown, fence?: Leadership): Promise<boolean> {
  return current ? store.replace(key, value, randomUUID(), current.revision, fence) : store.create(key, value, randomUUID(), fence);
}
