import { randomUUID } from 'node:crypto';
import type { DocumentStore, ScheduleStore, StoredSchedule } from '../journal/index.js';
import type { Clock } from '../shared/clock.js';
import { StratusError } from '../shared/errors.js';
import { Validator } from '../shared/validation.js';
import { ScheduleGroups } from './groups.js';
import { DEFAULT_GROUP, scheduleArn, scheduleKey, scheduleShape, scheduleSummary, type ScheduleDocument } from './model.js';
import { NAME_RULE, scheduleInput, type ScheduleInput } from './params.js';
import { firstFiring, type Random } from './planning.js';
import { listPage, type ListQuery } from './paging.js';
import { untilWon } from '../shared/races.js';

export interface SchedulesDeps {
  store: ScheduleStore;
  groups: DocumentStore;
  clock: Clock;
  region: string;
  /** Where in a flexible window each firing runs (default Math.random). */
  random?: Random;
  /** Called after a schedule was created or changed here (the firing loop, if in this process, looks at once). */
  changed?: () => void;
}

/**
 * EventBridge Scheduler's schedules and schedule groups, per account: every operation names the
 * caller's account first and keys everything under it, so another account's schedule is one that
 * does not exist. A schedule's next due time is written with it; `ScheduleFiring` fires it.
 */
export class Schedules {
  readonly groups: ScheduleGroups;
  private readonly random: Random;

  constructor(private readonly deps: SchedulesDeps) {
    this.random = deps.random ?? Math.random;
    this.groups = new ScheduleGroups({ store: deps.groups, schedules: deps.store, clock: deps.clock, region: deps.region });
  }

  async create(accountId: string, name: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    checkName(name);
    const now = this.deps.clock.now();
    const input = scheduleInput(body, accountId, now);
    await this.groups.require(accountId, input.groupName);
    const doc = document(accountId, name, input, now, now);
    const firing = firstFiring(doc, now, this.random, true);
    const write = { value: { ...doc, ...(firing ? { nominalMs: firing.nominalMs } : {}) }, revision: randomUUID(), ...(firing ? { dueAtMs: firing.dueAtMs } : {}) };
    const key = scheduleKey(accountId, input.groupName, name);
    if (!(await this.deps.store.create(key, write))) throw new StratusError('ResourceConflict', `Schedule ${name} already exists.`);
    // A DeleteScheduleGroup that ran meanwhile may have swept the group before this schedule was in it.
    await this.groups.require(accountId, input.groupName).catch(async (err: unknown) => {
      await this.deps.store.delete(key);
      throw err;
    });
    this.deps.changed?.();
    return { ScheduleArn: scheduleArn(this.deps.region, doc) };
  }

  async get(accountId: string, name: string, groupName: string | undefined): Promise<Record<string, unknown>> {
    const stored = await this.find(accountId, name, groupName);
    return scheduleShape(this.deps.region, readSchedule(stored));
  }

  /** Replaces every member (those not given take their defaults, as in AWS) and plans the next firing afresh. */
  async update(accountId: string, name: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    checkName(name);
    const now = this.deps.clock.now();
    const input = scheduleInput(body, accountId, now);
    const doc = await untilWon(5, async () => {
      const stored = await this.find(accountId, name, input.groupName);
      const doc = document(accountId, name, input, readSchedule(stored).createdMs, now);
      const firing = firstFiring(doc, now, this.random, false);
      const write = { value: { ...doc, ...(firing ? { nominalMs: firing.nominalMs } : {}) }, revision: randomUUID(), ...(firing ? { dueAtMs: firing.dueAtMs } : {}) };
      return (await this.deps.store.replace(stored.key, write, stored.revision)) ? doc : undefined;
    }, () => new StratusError('ResourceConflict', `Schedule ${name} is being changed by another request. Try again.`));
    this.deps.changed?.();
    return { ScheduleArn: scheduleArn(this.deps.region, doc) };
  }

  async delete(accountId: string, name: string, groupName: string | undefined): Promise<void> {
    const stored = await this.find(accountId, name, groupName);
    if (!(await this.deps.store.delete(stored.key))) throw notFound(name);
  }

  async list(accountId: string, query: ListQuery & { ScheduleGroup?: string; State?: string }): Promise<Record<string, unknown>> {
    const v = new Validator(query as Record<string, unknown>);
    const group = v.string('ScheduleGroup', 'groupName', NAME_RULE);
    const state = v.string('State', 'state', { enum: ['ENABLED', 'DISABLED'] });
    const page = listPage(v, query);
    v.done();
    if (group !== undefined) await this.groups.require(accountId, group);
    const prefix = group === undefined ? `${accountId}/` : `${scheduleKey(accountId, group, '')}`;
    const docs = (await this.deps.store.list(prefix)).map(readSchedule)
      .filter((d) => (state === undefined || d.state === state) && (page.prefix === undefined || d.name.startsWith(page.prefix)));
    const { items, nextToken } = page.cut(docs, (d) => `${d.groupName}/${d.name}`);
    return { Schedules: items.map((d) => scheduleSummary(this.deps.region, d)), ...(nextToken ? { NextToken: nextToken } : {}) };
  }

  private async find(accountId: string, name: string, groupName: string | undefined): Promise<StoredSchedule> {
    checkName(name);
    const group = groupName ?? DEFAULT_GROUP;
    const v = new Validator({ groupName: group });
    v.string('groupName', 'groupName', NAME_RULE);
    v.done();
    const stored = await this.deps.store.get(scheduleKey(accountId, group, name));
    if (!stored) {
      await this.groups.require(accountId, group);
      throw notFound(name);
    }
    return stored;
  }
}

function document(accountId: string, name: string, input: ScheduleInput, createdMs: number, nowMs: number): ScheduleDocument {
  const { parsed: _parsed, ...rest } = input;
  return { v: 1, accountId, name, ...rest, createdMs, modifiedMs: nowMs, anchorMs: input.startMs ?? nowMs };
}

export function readSchedule(stored: StoredSchedule): ScheduleDocument {
  const doc = stored.value as Partial<ScheduleDocument> | null;
  if (!doc || doc.v !== 1 || typeof doc.name !== 'string' || typeof doc.expression !== 'string') {
    throw new StratusError('Internal', `unreadable schedule ${stored.key}`);
  }
  return doc as ScheduleDocument;
}

function checkName(name: string): void {
  const v = new Validator({ name });
  v.string('name', 'name', { required: true, ...NAME_RULE });
  v.done();
}

function notFound(name: string): StratusError {
  return new StratusError('ResourceNotFound', `Schedule ${name} does not exist.`);
}
