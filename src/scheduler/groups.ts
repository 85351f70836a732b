import { randomUUID } from 'node:crypto';
import type { DocumentStore, ScheduleStore } from '../journal/index.js';
import type { Clock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { Validator } from '../shared/validation.js';
import { DEFAULT_GROUP, groupArn, groupKey, groupShape, scheduleKey, type GroupDocument } from './model.js';
import { listPage, type ListQuery } from './paging.js';
import { NAME_RULE } from './params.js';
import { untilWon } from '../shared/races.js';

/** EventBridge Scheduler's quota of schedule groups per account and region, the default group included. */
const MAX_GROUPS = 500;

export interface ScheduleGroupsDeps {
  store: DocumentStore;
  schedules: ScheduleStore;
  clock: Clock;
  region: string;
}

/**
 * Schedule groups per account. Every account has the group `default`, which is never stored,
 * created or deleted; deleting another group deletes its schedules first.
 */
export class ScheduleGroups {
  constructor(private readonly deps: ScheduleGroupsDeps) {}

  async create(accountId: string, name: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    checkGroupName(name);
    const v = new Validator(body);
    const tags = tagList(v, body.Tags);
    v.string('ClientToken', 'clientToken', { min: 1, max: 64, pattern: /^[a-zA-Z0-9-_]+$/ });
    v.done();
    if (name === DEFAULT_GROUP) throw exists(name);
    const own = (await this.stored(accountId)).length;
    if (own + 1 >= MAX_GROUPS) throw new StratusError('QuotaExceeded', `Schedule groups are limited to ${MAX_GROUPS} per account (the default group included).`);
    const now = this.deps.clock.now();
    const doc: GroupDocument = { v: 1, accountId, name, createdMs: now, modifiedMs: now, tags };
    if (!(await this.deps.store.create(groupKey(accountId, name), doc, randomUUID()))) throw exists(name);
    return { ScheduleGroupArn: groupArn(this.deps.region, accountId, name) };
  }

  async get(accountId: string, name: string): Promise<Record<string, unknown>> {
    checkGroupName(name);
    return groupShape(this.deps.region, await this.document(accountId, name));
  }

  async delete(accountId: string, name: string): Promise<void> {
    checkGroupName(name);
    if (name === DEFAULT_GROUP) throw new StratusError('Validation', 'The default schedule group cannot be deleted.');
    await this.document(accountId, name);
    const sweep = async () => {
      for (const schedule of await this.deps.schedules.list(scheduleKey(accountId, name, ''))) await this.deps.schedules.delete(schedule.key);
    };
    await sweep();
    if (!(await this.deps.store.delete(groupKey(accountId, name)))) throw notFound(name);
    // A CreateSchedule that found the group before it went may have added one since the first sweep.
    await sweep();
  }

  async list(accountId: string, query: ListQuery): Promise<Record<string, unknown>> {
    const v = new Validator(query as Record<string, unknown>);
    const page = listPage(v, query);
    v.done();
    const stored = await this.stored(accountId);
    const all = [this.defaultGroup(accountId), ...stored].sort((a, b) => (a.name < b.name ? -1 : 1))
      .filter((g) => page.prefix === undefined || g.name.startsWith(page.prefix));
    const { items, nextToken } = page.cut(all, (g) => g.name);
    return { ScheduleGroups: items.map((g) => groupShape(this.deps.region, g)), ...(nextToken ? { NextToken: nextToken } : {}) };
  }

  /** ListTagsForResource: a group's tags (by its ARN; another account's group is one that does not exist). */
  async tags(accountId: string, arn: string): Promise<Record<string, unknown>> {
    const name = this.groupOfArn(accountId, arn);
    return { Tags: (await this.document(accountId, name)).tags };
  }

  /** TagResource: adds or replaces tags of a group. */
  async tag(accountId: string, arn: string, body: Record<string, unknown>): Promise<void> {
    const v = new Validator(body);
    if (body.Tags === undefined || body.Tags === null) v.reject(undefined, 'tags', 'Member must not be null');
    const tags = tagList(v, body.Tags);
    v.done();
    await this.changeTags(accountId, arn, (current) => [...current.filter((t) => !tags.some((n) => n.Key === t.Key)), ...tags]);
  }

  /** UntagResource: removes tags of a group by key. */
  async untag(accountId: string, arn: string, keys: string[]): Promise<void> {
    await this.changeTags(accountId, arn, (current) => current.filter((t) => !keys.includes(t.Key)));
  }

  private async changeTags(accountId: string, arn: string, change: (tags: GroupDocument['tags']) => GroupDocument['tags']): Promise<void> {
    const name = this.groupOfArn(accountId, arn);
    if (name === DEFAULT_GROUP) throw new StratusError('Validation', 'The default schedule group cannot be tagged.');
    await untilWon(5, async () => {
      const stored = await this.deps.store.get(groupKey(accountId, name));
      if (!stored) throw notFound(name);
      const doc = stored.value as GroupDocument;
      const next: GroupDocument = { ...doc, tags: change(doc.tags), modifiedMs: this.deps.clock.now() };
      if (next.tags.length > 200) throw new StratusError('Validation', 'A schedule group has at most 200 tags.');
      return (await this.deps.store.replace(stored.key, next, randomUUID(), stored.revision)) || undefined;
    }, () => new StratusError('ResourceConflict', `Schedule group ${name} is being changed by another request. Try again.`));
  }

  /** The group a tag operation's ARN names, in the caller's account (another account's: a group that does not exist). */
  private groupOfArn(accountId: string, arn: string): string {
    const v = new Validator({ arn });
    v.string('arn', 'resourceArn', {
      required: true, min: 1, max: 1011, pattern: /^arn:aws(-[a-z]+)?:scheduler:[a-z0-9-]+:\d{12}:schedule-group\/[0-9a-zA-Z-_.]+$/,
      patternText: '^arn:aws(-[a-z]+)?:scheduler:[a-z0-9\\-]+:\\d{12}:schedule-group\\/[0-9a-zA-Z-_.]+$',
    });
    v.done();
    const [, , , , account, resource] = arn.split(':');
    const name = (resource ?? '').slice('schedule-group/'.length);
    if (account !== accountId) throw notFound(name);
    return name;
  }

  /** The account's groups other than the default one. */
  private async stored(accountId: string): Promise<GroupDocument[]> {
    return (await this.deps.store.list()).filter((d) => d.key.startsWith(`${accountId}/`)).map((d) => d.value as GroupDocument);
  }

  /** Throws ResourceNotFoundException unless the group exists in the account. */
  async require(accountId: string, name: string): Promise<void> {
    await this.document(accountId, name);
  }

  private async document(accountId: string, name: string): Promise<GroupDocument> {
    if (name === DEFAULT_GROUP) return this.defaultGroup(accountId);
    const stored = await this.deps.store.get(groupKey(accountId, name));
    if (!stored) throw notFound(name);
    return stored.value as GroupDocument;
  }

  /** `default` has no creation time of its own: it is the account's (shown as the epoch). */
  private defaultGroup(accountId: string): GroupDocument {
    return { v: 1, accountId, name: DEFAULT_GROUP, createdMs: 0, modifiedMs: 0, tags: [] };
  }
}

function tagList(v: Validator, value: unknown): { Key: string; Value: string }[] {
  if (value === undefined || value === null) return [];
  const ok = Array.isArray(value) && value.length <= 200 && value.every((t) => {
    const tag = t as { Key?: unknown; Value?: unknown } | null;
    return typeof tag?.Key === 'string' && typeof tag.Value === 'string' && tag.Key.length >= 1 && tag.Key.length <= 128 && tag.Value.length >= 1 && tag.Value.length <= 256;
  });
  if (!ok) v.reject(value, 'tags', 'Member must be a list of at most 200 tags, each a Key of 1 to 128 and a Value of 1 to 256 characters');
  return ok ? (value as { Key: string; Value: string }[]).map((t) => ({ Key: t.Key, Value: t.Value })) : [];
}

function checkGroupName(name: string): void {
  const v = new Validator({ name });
  v.string('name', 'name', { required: true, ...NAME_RULE });
  v.done();
}

function exists(name: string): StratusError {
  return new StratusError('ResourceConflict', `Schedule group ${name} already exists.`);
}

function notFound(name: string): StratusError {
  return new StratusError('ResourceNotFound', `Schedule group ${name} does not exist.`);
}
