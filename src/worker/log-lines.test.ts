import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogTail, reportLine } from './log-lines.js';

describe('platform log lines', () => {
  it('formats REPORT as Lambda does: tabs, ceil billing, MB, Init Duration last, trailing tab', () => {
    const line = reportLine({ requestId: 'r1', durationMs: 3.011, memorySizeMb: 128, maxMemoryUsedBytes: 36 * 1024 * 1024, initDurationMs: 110.1 });
    assert.equal(line, 'REPORT RequestId: r1\tDuration: 3.01 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\tMax Memory Used: 36 MB\tInit Duration: 110.10 ms\t\n');
  });

  it('leaves Init Duration out on warm invocations and marks timeouts', () => {
    const line = reportLine({ requestId: 'r2', durationMs: 1000, memorySizeMb: 256, maxMemoryUsedBytes: 0, status: 'timeout' });
    assert.doesNotMatch(line, /Init Duration/);
    assert.match(line, /Billed Duration: 1000 ms\t.*Status: timeout\t\n$/);
  });

  it('reports a SnapStart restore as Restore Duration and Billed Restore Duration instead of Init Duration', () => {
    const line = reportLine({ requestId: 'r3', durationMs: 2.2, memorySizeMb: 512, maxMemoryUsedBytes: 90 * 1024 * 1024, initDurationMs: 210.04, restored: true });
    assert.equal(line, 'REPORT RequestId: r3\tDuration: 2.20 ms\tBilled Duration: 3 ms\tMemory Size: 512 MB\tMax Memory Used: 90 MB\tRestore Duration: 210.04 ms\tBilled Restore Duration: 211 ms\t\n');
  });

  it('keeps only the last 4 KB for the tail', () => {
    const tail = new LogTail();
    tail.append('a'.repeat(5000));
    tail.append('END');
    const text = Buffer.from(tail.base64(), 'base64').toString();
    assert.equal(text.length, 4096);
    assert.ok(text.endsWith('aEND'));
  });
});
