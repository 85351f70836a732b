import { randomUUID } from 'node:crypto';

export function newRequestId(): string {
  return randomUUID();
}

/** Lambda's timestamp format: 2024-01-31T12:34:56.789+0000 */
export function lambdaTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}
