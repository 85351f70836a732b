/** Lambda's platform log lines and the per-invocation log tail. */
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
}

export function reportLine(f: ReportFields): string {
  const parts = [
    `REPORT RequestId: ${f.requestId}`,
    `Duration: ${f.durationMs.toFixed(2)} ms`,
    `Billed Duration: ${Math.max(1, Math.ceil(f.durationMs))} ms`,
    `Memory Size: ${f.memorySizeMb} MB`,
    `Max Memory Used: ${Math.max(1, Math.round(f.maxMemoryUsedBytes / MB))} MB`,
  ];
  if (f.initDurationMs !== undefined && f.restored) {
    parts.push(`Restore Duration: ${f.initDurationMs.toFixed(2)} ms`, `Billed Restore Duration: ${Math.max(1, Math.ceil(f.initDurationMs))} ms`);
  } else if (f.initDurationMs !== undefined) parts.push(`Init Duration: ${f.initDurationMs.toFixed(2)} ms`);
  if (f.initDurationMs !== undefined && f.warmPool) parts.push('Init Source: warm-pool');
  if (f.status) parts.push(`Status: ${f.status}`);
  return `${parts.join('\t')}\t\n`;
}

/** Keeps only the last 4 KB of what is appended, as Lambda's LogType=Tail does. */
export class LogTail {
  private chunks: string[] = [];
  private bytes = 0;

  append(text: string): void {
    this.chunks.push(text);
    this.bytes += Buffer.byteLength(text);
    while (this.bytes > TAIL_BYTES * 2 && this.chunks.length > 1) {
      this.bytes -= Buffer.byteLength(this.chunks.shift() ?? '');
    }
  }

  text(): string {
    return this.chunks.join('');
  }

  base64(): string {
    const all = Buffer.from(this.text());
    return all.subarray(Math.max(0, all.length - TAIL_BYTES)).toString('base64');
  }
}
