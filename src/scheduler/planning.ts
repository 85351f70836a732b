import { StratusError } from '../shared/errors.js';
import { firstDue, nextDue, parseExpression, type Expression } from './expressions.js';
import type { ScheduleDocument } from './model.js';

/** One firing as planned: the due time it stands for, and when it runs (later within a flexible window). */
export interface Firing {
  nominalMs: number;
  dueAtMs: number;
}

/** A number in [0, 1): where in its flexible window a firing runs. */
export type Random = () => number;

function expressionOf(doc: ScheduleDocument): Expression {
  const parsed = parseExpression(doc.expression);
  if (!parsed) throw new StratusError('Internal', `stored schedule ${doc.name} has an unreadable expression`);
  return parsed;
}

function window(doc: ScheduleDocument) {
  return { ...(doc.startMs !== undefined ? { startMs: doc.startMs } : {}), ...(doc.endMs !== undefined ? { endMs: doc.endMs } : {}) };
}

function runAt(doc: ScheduleDocument, nominalMs: number, random: Random): Firing {
  const spread = doc.flexible.mode === 'FLEXIBLE' ? Math.floor(random() * doc.flexible.maxWindowMinutes * 60_000) : 0;
  return { nominalMs, dueAtMs: nominalMs + spread };
}

/**
 * The first firing of a schedule created (`created`) or updated at `nowMs`; undefined if it is
 * disabled or has no time left. An `at()` time that has passed fires at once when the schedule is
 * created, never after an update (it may have fired already).
 */
export function firstFiring(doc: ScheduleDocument, nowMs: number, random: Random, created: boolean): Firing | undefined {
  if (doc.state !== 'ENABLED') return undefined;
  const due = firstDue(expressionOf(doc), doc.timezone, window(doc), nowMs, created);
  return due === undefined ? undefined : runAt(doc, due, random);
}

/** The firing after the one due at `nominalMs`; undefined once there is none. */
export function nextFiring(doc: ScheduleDocument, nominalMs: number, random: Random): Firing | undefined {
  if (doc.state !== 'ENABLED') return undefined;
  const due = nextDue(expressionOf(doc), doc.timezone, window(doc), doc.anchorMs, nominalMs);
  return due === undefined ? undefined : runAt(doc, due, random);
}
