/**
 * The callback passed to handlers and the context's succeed/fail/done and
 * callbackWaitsForEmptyEventLoop, following the official runtime client
 * (src/CallbackContext.js): only the first completion counts; a successful
 * callback with callbackWaitsForEmptyEventLoop=true is posted only once the
 * event loop has drained ('beforeExit'); errors are posted at once.
 */
import { BeforeExit } from './before-exit.cjs';
import { logError } from './log-patch.cjs';
import type { RapidClient } from './rapid-client.cjs';
import { serializeResult } from './rapid-client.cjs';

export type Callback = (err?: unknown, result?: unknown) => void;

export interface CallbackContext {
  callbackWaitsForEmptyEventLoop: boolean;
  succeed(result?: unknown): void;
  fail(err?: unknown): void;
  done(err?: unknown, result?: unknown): void;
}

export interface BuiltCallbackContext {
  callback: Callback;
  context: CallbackContext;
  /** Marks the invocation as reported, so later completions are ignored. */
  markCompleted(): void;
}

const isSet = (v: unknown): boolean => v !== undefined && v !== null;

export function buildCallbackContext(
  client: RapidClient,
  id: string,
  scheduleNext: () => void,
): BuiltCallbackContext {
  let reported = false;
  let waitForEmptyEventLoop = true;
  let finished = false;

  const postError = (err: unknown): void => {
    reported = true;
    logError('Invoke Error', err);
    client.postInvocationError(err, id, () => scheduleNext());
  };

  const complete = (result: unknown): void => {
    if (reported) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
      );
      return;
    }
    let body: string;
    try {
      body = serializeResult(result);
    } catch (err) {
      postError(err);
      return;
    }
    reported = true;
    client.postInvocationResponse(id, body, () => scheduleNext());
  };

  const done = (err?: unknown, result?: unknown): void => {
    BeforeExit.reset();
    if (isSet(err)) postError(err);
    else complete(result);
  };

  const callback: Callback = (err, result) => {
    BeforeExit.reset();
    if (isSet(err)) postError(err);
    else if (!waitForEmptyEventLoop) complete(result);
    else BeforeExit.set(() => setImmediate(() => complete(result)));
  };

  /** Only the first call to any completion function has an effect. */
  const once =
    <A extends unknown[]>(fn: (...args: A) => void) =>
    (...args: A): void => {
      if (finished) return;
      finished = true;
      fn(...args);
    };

  const context: CallbackContext = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value: boolean) {
      waitForEmptyEventLoop = value;
    },
    succeed: once((result?: unknown) => done(null, result)),
    fail: once((err?: unknown) => (isSet(err) ? done(err) : done('handled'))),
    done: once(done),
  };

  return {
    callback: once(callback),
    context,
    markCompleted: () => {
      reported = true;
    },
  };
}
