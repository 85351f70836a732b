import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogTail, PlatformLog, reportLine, type PlatformLogSettings } from './log-lines.js';

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

  it('keeps the end of a large read that small ones follow', () => {
    const tail = new LogTail();
    tail.append('START\n');
    tail.append(`${'x'.repeat(65_536)}\nlast line of the read\n`);
    tail.append('END\n');
    tail.append('REPORT\n');
    const text = Buffer.from(tail.base64(), 'base64').toString();
    assert.equal(text.length, 4096);
    assert.ok(text.endsWith('x\nlast line of the read\nEND\nREPORT\n'), text.slice(-80));
  });
});

const NOW = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
const lines = (settings?: PlatformLogSettings) => new PlatformLog(settings, () => NOW);
const records = (text: string) => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { time: string; type: string; record: Record<string, unknown> });
const INIT = { functionName: 'fn', version: '$LATEST', runtime: 'nodejs20.x' };
const REPORT = { requestId: 'r1', durationMs: 3.0114, memorySizeMb: 128, maxMemoryUsedBytes: 36 * 1024 * 1024, initDurationMs: 110.1 };

describe('PlatformLog (LoggingConfig)', () => {
  it('Text (and no LoggingConfig at all) writes the lines of today', () => {
    for (const log of [lines(), lines({ format: 'Text' }), lines({ format: 'Text', systemLogLevel: 'WARN' })]) {
      assert.equal(log.init(INIT), 'INIT_START Runtime Version: stratus:nodejs20.x\n');
      assert.equal(log.init({ ...INIT, restored: true }), 'RESTORE_START Runtime Version: stratus:nodejs20.x\n');
      assert.equal(log.start('r1', '$LATEST'), 'START RequestId: r1 Version: $LATEST\n');
      assert.equal(log.finished(REPORT), `END RequestId: r1\n${reportLine(REPORT)}`);
      assert.equal(log.truncated('10 bytes per invocation'), '[stratus] function output truncated: over 10 bytes per invocation\n');
      assert.equal(log.dropped(5), '[stratus] 5 bytes of function output were dropped\n');
      assert.equal(log.dropped(0), '');
    }
  });

  it('JSON writes Lambda\'s records, one per line: initStart, start and report at INFO (the default level)', () => {
    const log = lines({ format: 'JSON' });
    const init = records(log.init(INIT));
    assert.deepEqual(init, [{
      time: '2024-01-02T03:04:05.678Z', type: 'platform.initStart',
      record: { initializationType: 'on-demand', phase: 'init', functionName: 'fn', functionVersion: '$LATEST', runtimeVersion: 'stratus:nodejs20.x' },
    }]);
    assert.deepEqual(records(log.start('r1', '3')), [{ time: '2024-01-02T03:04:05.678Z', type: 'platform.start', record: { requestId: 'r1', version: '3' } }]);
    const done = records(log.finished(REPORT));
    assert.deepEqual(done, [{
      time: '2024-01-02T03:04:05.678Z', type: 'platform.report',
      record: { requestId: 'r1', metrics: { durationMs: 3.011, billedDurationMs: 4, memorySizeMB: 128, maxMemoryUsedMB: 36, initDurationMs: 110.1 }, status: 'success' },
    }]);
    assert.deepEqual(Object.keys(done[0]?.record.metrics as object), ['durationMs', 'billedDurationMs', 'memorySizeMB', 'maxMemoryUsedMB', 'initDurationMs']);
  });

  it('SystemLogLevel DEBUG adds the runtimeDone events; WARN keeps only what did not succeed', () => {
    const debug = lines({ format: 'JSON', systemLogLevel: 'DEBUG' });
    assert.deepEqual(records(debug.init(INIT)).map((r) => r.type), ['platform.initStart', 'platform.initRuntimeDone']);
    assert.deepEqual(records(debug.init({ ...INIT, restored: true })).map((r) => r.type), ['platform.restoreStart', 'platform.restoreRuntimeDone']);
    const done = records(debug.finished(REPORT));
    assert.deepEqual(done.map((r) => r.type), ['platform.runtimeDone', 'platform.report']);
    assert.deepEqual(done[0]?.record, { requestId: 'r1', status: 'success', metrics: { durationMs: 3.011 } });

    const warn = lines({ format: 'JSON', systemLogLevel: 'WARN' });
    assert.equal(warn.init(INIT) + warn.start('r1', '$LATEST') + warn.finished(REPORT), '');
    const timedOut = records(warn.finished({ ...REPORT, initDurationMs: undefined, status: 'timeout', errorType: 'Sandbox.Timedout' }));
    assert.deepEqual(timedOut.map((r) => [r.type, r.record.status, r.record.errorType]), [
      ['platform.runtimeDone', 'timeout', 'Sandbox.Timedout'], ['platform.report', 'timeout', 'Sandbox.Timedout'],
    ]);
    assert.deepEqual(records(warn.dropped(7)), [{
      time: '2024-01-02T03:04:05.678Z', type: 'platform.logsDropped', record: { reason: 'Function output over the log budget was dropped', droppedRecords: 0, droppedBytes: 7 },
    }]);
    assert.equal(records(warn.truncated('10 bytes per second'))[0]?.type, 'platform.logsDropped');
  });

  it('a SnapStart restore reports restoreDurationMs and billedRestoreDurationMs; the timeout line is Lambda\'s text in both formats', () => {
    const report = records(lines({ format: 'JSON' }).finished({ ...REPORT, initDurationMs: 210.04, restored: true }))[0];
    assert.deepEqual(report?.record.metrics, { durationMs: 3.011, billedDurationMs: 4, memorySizeMB: 128, maxMemoryUsedMB: 36, restoreDurationMs: 210.04, billedRestoreDurationMs: 211 });
    for (const log of [lines(), lines({ format: 'JSON', systemLogLevel: 'WARN' })]) {
      assert.equal(log.timedOut('r9', 3000), '2024-01-02T03:04:05.678Z r9 Task timed out after 3.00 seconds\n');
    }
  });

  it('a value with quotes or newlines stays inside its one-line record', () => {
    const text = lines({ format: 'JSON' }).start('r1"}\n{"type":"platform.report', '$LATEST');
    assert.equal(text.split('\n').length, 2);
    assert.equal(records(text)[0]?.record.requestId, 'r1"}\n{"type":"platform.report');
  });
});
