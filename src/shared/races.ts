import type { StratusError } from './errors.js';

/**
 * Runs `attempt` (a read, a change, and a write checked against what was read) until it resolves
 * a value, at most `times` times: undefined means it lost the race to another writer and reads
 * again. When every attempt lost, throws `exhausted()`.
 */
export async function untilWon<T>(times: number, attempt: () => Promise<T | undefined>, exhausted: () => StratusError): Promise<T> {
  for (let i = 0; i < times; i++) {
    const result = await attempt();
    if (result !== undefined) return result;
  }
  throw exhausted();
}
