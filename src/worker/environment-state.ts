import type { TimerHandle } from '../shared/clock.js';
import type { NextInvocation } from './runtime-api.js';
import type { ResponseRelay } from './response-relay.js';
import type { Invocation, InvocationResult } from './invocation.js';
import type { LogTail } from './log-lines.js';
import type { Failure } from './environment-failures.js';

/** Where an Environment is in its life (environment.ts), and its invocation in flight. */
export type Phase =
  | { kind: 'initializing' }
  | { kind: 'between' }
  | { kind: 'waiting'; deliver: (inv: NextInvocation) => void }
  | { kind: 'running'; requestId: string }
  | { kind: 'dead'; failure: Failure };

export interface Pending {
  inv: Invocation;
  tail: LogTail;
  startedAt: number;
  /** Handed to the runtime (an invocation that fails before it was, fails during init). */
  dispatched?: boolean;
  /** When the runtime answered (or the environment died): the invocation settles once its output has drained. */
  answeredAt?: number;
  settled: boolean;
  timer?: TimerHandle;
  /** Set while the runtime streams the response. */
  relay?: ResponseRelay;
  resolve(result: InvocationResult): void;
}
