import type { Validator } from '../shared/validation.js';
import { NAME_RULE } from './params.js';

/** A List operation's paging members (query string). */
export interface ListQuery {
  NamePrefix?: string;
  MaxResults?: string;
  NextToken?: string;
}

/**
 * Paging of a list already confined to the caller's account: the token names the last item
 * given (a forged one can only skip within the caller's own list).
 */
export function listPage(v: Validator, query: ListQuery) {
  const prefix = v.string('NamePrefix', 'namePrefix', NAME_RULE);
  const maxText = query.MaxResults;
  const max = maxText === undefined ? 100 : Number(maxText);
  if (maxText !== undefined && (!/^\d+$/.test(maxText) || max < 1 || max > 100)) {
    v.reject(maxText, 'maxResults', max < 1 ? 'Member must have value greater than or equal to 1' : 'Member must have value less than or equal to 100');
  }
  const token = v.string('NextToken', 'nextToken', { min: 1, max: 2048 });
  const after = token === undefined ? undefined : Buffer.from(token, 'base64url').toString('utf8');
  return {
    prefix,
    cut<T>(items: T[], keyOf: (item: T) => string): { items: T[]; nextToken?: string } {
      const rest = after === undefined ? items : items.filter((i) => keyOf(i) > after);
      const page = rest.slice(0, max);
      const more = rest.length > page.length && page.length > 0;
      return { items: page, ...(more ? { nextToken: Buffer.from(keyOf(page.at(-1)!)).toString('base64url') } : {}) };
    },
  };
}
