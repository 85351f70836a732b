import type { StratusProcess } from './stratus.js';

/**
 * A destination function that logs every invocation record it receives as one line
 * `RECORD <json>`: with `--function-logs stdout` the line reaches Stratus's output, as
 * CloudWatch Logs would show it. That output is what tests observe.
 */
// It waits a little after its line, so that its worker has read the line from the sandbox before
// the invoke is answered: a worker SIGKILLed right after the answer would otherwise take the
// line (the only evidence of the delivery) with it.
export const RECORDER = `exports.handler = async (event) => { console.log('RECORD ' + JSON.stringify(event)); await new Promise((r) => setTimeout(r, 50)); return 'recorded'; };`;

/** Every record the recorder has logged in these outputs so far. */
export function recordsIn(...outputs: string[]): Record<string, unknown>[] {
  const records: Record<string, unknown>[] = [];
  for (const text of outputs) {
    for (const m of text.matchAll(/RECORD (\{.*\})\s*$/gm)) records.push(JSON.parse(m[1] ?? '{}') as Record<string, unknown>);
  }
  return records;
}

export function recordsFor(s: StratusProcess, requestId: string): Record<string, unknown>[] {
  return recordsIn(s.output()).filter((r) => (r.requestContext as { requestId?: string } | undefined)?.requestId === requestId);
}

export { until } from './wait.js';
