/** Lambda's platform log lines (Text, or JSON records: see PlatformLog) and the per-invocation log tail. */
const MB = 1024 * 1024;
const TAIL_BYTES = 4096;

export function startLine(requestId: string, version: string): string {
  return `START RequestId: ${requestId} Version: ${version}\n`;
}

export function endLine(requestId: string): string {
  return `END RequestId: ${requestId}\n`;
}

export interface ReportFields {
  requestId: string;
  durationMs: number;
  memorySizeMb: number;
  maxMemoryUsedBytes: number;
  initDurationMs?: number;
  /** initDurationMs is a SnapStart restore: Restore Duration and Billed Restore Duration. */
  restored?: boolean;
  /** The environment came from the warm pool: its runtime had booted before this function. */
  warmPool?: boolean;
  status?: 'timeout' | 'error';
  /** With a status: the error the invocation ended with (platform.report's errorType). */
  errorType?: string;
}

/** Every field followed by a tab, then the line's end (built as one string: this is on every invoke). */
export function reportLine(f: ReportFields): string {
  let line = `REPORT RequestId: ${f.requestId}\tDuration: ${f.durationMs.toFixed(2)} ms\tBilled Duration: ${Math.max(1, Math.ceil(f.durationMs))} ms\t`
    + `Memory Size: ${f.memorySizeMb} MB\tMax Memory Used: ${Math.max(1, Math.round(f.maxMemoryUsedBytes / MB))} MB\t`;
  if (f.initDurationMs !== undefined && f.restored) {
    line += `Restore Duration: ${f.initDurationMs.toFixed(2)} ms\tBilled Restore Duration: ${Math.max(1, Math.ceil(f.initDurationMs))} ms\t`;
  } else if (f.initDurationMs !== undefined) line += `Init Duration: ${f.initDurationMs.toFixed(2)} ms\t`;
  if (f.initDurationMs !== undefined && f.warmPool) line += 'Init Source: warm-pool\t';
  if (f.status) line += `Status: ${f.status}\t`;
  return `${line}\n`;
}

/** LoggingConfig as the platform lines need it (absent: Text). */
export interface PlatformLogSettings {
  format: 'Text' | 'JSON';
  systemLogLevel?: 'DEBUG' | 'INFO' | 'WARN';
}

type SystemLevel = NonNullable<PlatformLogSettings['systemLogLevel']>;
const RANK: Record<SystemLevel, number> = { DEBUG: 0, INFO: 1, WARN: 2 };

/** What INIT_START (or RESTORE_START) says: the function's runtime, and whether it was a SnapStart restore. */
export interface InitFields {
  functionName: string;
  version: string;
  runtime: string;
  restored?: boolean;
}

/**
 * An environment's platform lines in its function's LoggingConfig. Text: Lambda's INIT_START,
 * START, END and REPORT lines. JSON: Lambda's records `{"time","type","record"}`, each at the
 * level Lambda gives its event (a start or report INFO, a runtimeDone DEBUG, anything that did
 * not succeed WARN) and written only at or above the SystemLogLevel (default INFO). Every value
 * goes through JSON.stringify, so a record is always exactly one line. The "Task timed out" line
 * is Lambda's text in both formats; output cut by the log budget is platform.logsDropped (WARN:
 * always written).
 */
export class PlatformLog {
  constructor(private readonly settings: PlatformLogSettings | undefined, private readonly nowMs: () => number) {}

  private get json(): boolean {
    return this.settings?.format === 'JSON';
  }

  private record(level: SystemLevel, type: string, record: unknown): string {
    if (RANK[level] < RANK[this.settings?.systemLogLevel ?? 'INFO']) return '';
    return `${JSON.stringify({ time: new Date(this.nowMs()).toISOString(), type, record })}\n`;
  }

  /** Before the first invocation of a booted (or restored) environment: its init began, and ended well. */
  init(f: InitFields): string {
    const runtimeVersion = `stratus:${f.runtime}`;
    if (!this.json) return `${f.restored ? 'RESTORE_START' : 'INIT_START'} Runtime Version: ${runtimeVersion}\n`;
    const who = { functionName: f.functionName, functionVersion: f.version, runtimeVersion };
    if (f.restored) {
      return this.record('INFO', 'platform.restoreStart', who) + this.record('DEBUG', 'platform.restoreRuntimeDone', { status: 'success' });
    }
    const init = { initializationType: 'on-demand', phase: 'init' };
    return this.record('INFO', 'platform.initStart', { ...init, ...who }) + this.record('DEBUG', 'platform.initRuntimeDone', { ...init, status: 'success' });
  }

  start(requestId: string, version: string): string {
    return this.json ? this.record('INFO', 'platform.start', { requestId, version }) : startLine(requestId, version);
  }

  /** END and REPORT (JSON: platform.runtimeDone and platform.report, WARN when the invocation did not succeed). */
  finished(f: ReportFields): string {
    if (!this.json) return endLine(f.requestId) + reportLine(f);
    const level = f.status ? 'WARN' : 'INFO';
    const outcome = { status: f.status ?? 'success', ...(f.status && f.errorType ? { errorType: f.errorType } : {}) };
    const runtimeDone = this.record(f.status ? 'WARN' : 'DEBUG', 'platform.runtimeDone', { requestId: f.requestId, ...outcome, metrics: { durationMs: ms(f.durationMs) } });
    return runtimeDone + this.record(level, 'platform.report', { requestId: f.requestId, metrics: reportMetrics(f), ...outcome });
  }

  /** Lambda's own line when an invocation runs out of time (text in both formats). */
  timedOut(requestId: string, timeoutMs: number): string {
    return `${new Date(this.nowMs()).toISOString()} ${requestId} Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds\n`;
  }

  /** Where the log budget starts cutting an invocation's output. */
  truncated(why: string): string {
    if (!this.json) return `[stratus] function output truncated: over ${why}\n`;
    return this.record('WARN', 'platform.logsDropped', { reason: `Function output truncated: over ${why}`, droppedRecords: 0, droppedBytes: 0 });
  }

  /** At the end of an invocation whose output was cut: how much was dropped. */
  dropped(bytes: number): string {
    if (bytes <= 0) return '';
    if (!this.json) return `[stratus] ${bytes} bytes of function output were dropped\n`;
    return this.record('WARN', 'platform.logsDropped', { reason: 'Function output over the log budget was dropped', droppedRecords: 0, droppedBytes: bytes });
  }
}

/** platform.report's metrics, as the REPORT line's fields. */
function reportMetrics(f: ReportFields): Record<string, number> {
  const metrics: Record<string, number> = {
    durationMs: ms(f.durationMs), billedDurationMs: Math.max(1, Math.ceil(f.durationMs)),
    memorySizeMB: f.memorySizeMb, maxMemoryUsedMB: Math.max(1, Math.round(f.maxMemoryUsedBytes / MB)),
  };
  if (f.initDurationMs !== undefined && f.restored) {
    Object.assign(metrics, { restoreDurationMs: ms(f.initDurationMs), billedRestoreDurationMs: Math.max(1, Math.ceil(f.initDurationMs)) });
  } else if (f.initDurationMs !== undefined) metrics.initDurationMs = ms(f.initDurationMs);
  return metrics;
}

/** Milliseconds as Lambda's records give them: three decimals at most. */
function ms(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * Keeps the last 4 KB of what is appended, as Lambda's LogType=Tail does: whole chunks before
 * the last 4 KB are dropped, and a chunk that reaches into it is cut, so a large read followed
 * by small ones keeps its end.
 */
export class LogTail {
  private chunks: Buffer[] = [];
  private bytes = 0;

  append(text: string): void {
    if (text === '') return;
    const chunk = Buffer.from(text);
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes <= TAIL_BYTES * 2) return;
    while (this.bytes - this.chunks[0]!.length >= TAIL_BYTES) this.bytes -= this.chunks.shift()!.length;
    const first = this.chunks[0]!;
    this.chunks[0] = first.subarray(first.length - (TAIL_BYTES - (this.bytes - first.length)));
    this.bytes = TAIL_BYTES;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString();
  }

  base64(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - TAIL_BYTES)).toString('base64');
  }
}
