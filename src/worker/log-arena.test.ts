import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventArena, type TakenEvents } from './log-arena.js';

const MB = 1024 * 1024;

/** The arena's waiting messages, taken and put back (so the arena is as it was). */
function waiting(a: EventArena): string[] {
  const { events, kept } = a.take(Infinity, 0, Infinity);
  a.putBack(kept);
  return events.map((e) => e.message);
}

describe('EventArena', () => {
  test('held at a bound by dropping its oldest events, its buffer stays within twice the bound', () => {
    const a = new EventArena();
    const line = `${'x'.repeat(200 * 1024)}\n`;
    const bound = 8 * MB;
    let held = 0;
    let largest = 0;
    for (let i = 0; i < 3000; i++) {
      held += a.addLines(i, line);
      while (held > bound) held -= a.dropOldest();
      largest = Math.max(largest, a.capacity);
    }
    assert.ok(largest <= 2 * bound, `buffer reached ${(largest / MB).toFixed(1)} MB for ${bound / MB} MB of events`);
    assert.equal(a.size, Math.floor(bound / (200 * 1024)));
  });

  test('never emptied (a line always arrives while a batch is shipped), its buffer follows what waits, and shrinks once little does', () => {
    const a = new EventArena();
    const line = `${'y'.repeat(200 * 1024)}\n`;
    let largest = 0;
    for (let tick = 0; tick < 400; tick++) {
      a.addLines(tick, line.repeat(tick % 50 === 0 ? 40 : 3));
      a.take(a.size, 0, Infinity);
      a.addLines(tick, line);
      largest = Math.max(largest, a.capacity);
    }
    assert.ok(largest <= 2 * 41 * line.length, `buffer reached ${(largest / MB).toFixed(1)} MB`);
    assert.ok(a.capacity <= 4 * line.length, `${(a.capacity / MB).toFixed(1)} MB held for one line`);
    assert.equal(a.size, 1);
  });

  test('keeps every event, in order and whole, through adds, takes, drops and put-backs that move and resize its buffer', () => {
    const a = new EventArena();
    const model: string[] = [];
    let seed = 7;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    const texts = ['a', 'é日🙂', '', 'z'.repeat(3000), 'q'.repeat(30_000)];
    let n = 0;
    const line = () => `${n++}:${texts[rand(texts.length)]!.repeat(1 + rand(3))}`;
    const inFlight: { taken: TakenEvents; messages: string[] }[] = [];
    for (let step = 0; step < 2000; step++) {
      const op = rand(10);
      if (op < 4) {
        const lines = Array.from({ length: 1 + rand(4) }, line);
        a.addLines(step, `${lines.join('\n')}\n`);
        model.push(...lines);
      } else if (op < 5) {
        const l = line();
        a.add(step, l);
        model.push(l);
      } else if (op < 6 && a.size > 0) {
        a.dropOldest();
        model.shift();
      } else if (op < 8 && a.size > 0) {
        const { events, kept } = a.take(1 + rand(20), 0, 100_000);
        assert.deepEqual(events.map((e) => e.message), model.splice(0, events.length));
        if (rand(2) === 0) inFlight.push({ taken: kept, messages: events.map((e) => e.message) });
      } else if (inFlight.length > 0) {
        const back = inFlight.pop()!;
        a.putBack(back.taken);
        model.unshift(...back.messages);
      }
      assert.equal(a.size, model.length);
    }
    assert.deepEqual(waiting(a), model);
    assert.ok(a.capacity <= Math.max(64 * 1024, 4 * Buffer.byteLength(model.join('\n'))));
  });
});
