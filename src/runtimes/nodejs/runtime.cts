/**
 * The invoke loop (official runtime client's Runtime.js, non-streaming):
 * GET next → build context → call handler(event, context, callback) → the
 * callback context posts the outcome and schedules the next iteration.
 */
import { BeforeExit } from './before-exit.cjs';
import { buildCallbackContext } from './callback-context.cjs';
import { NodeJsExit } from './errors.cjs';
import { attachInvokeData, invokeId } from './invoke-context.cjs';
import { logError, setCurrentRequestId } from './log-patch.cjs';
import type { RapidClient } from './rapid-client.cjs';
import { isStreamingHandler, ResponseStream } from './streaming.cjs';
import type { Handler } from './user-function.cjs';

/** Exit codes of the official runtime client after a fatal error. */
export const EXIT_UNCAUGHT_EXCEPTION = 129;
export const EXIT_UNHANDLED_REJECTION = 128;
/** Give up on reporting a fatal error if the Runtime API does not answer. */
const FATAL_POST_TIMEOUT_MS = 5000;

/**
 * Reports a fatal error (uncaught exception, unhandled rejection, runtime
 * failure) and exits: to /init/error before the first invocation, afterwards
 * to the error endpoint of the latest invocation. Only the first one counts.
 */
export class FatalErrors {
  private invocationId: string | undefined;
  private exiting = false;

  constructor(private readonly client: RapidClient) {}

  setInvocation(id: string): void {
    this.invocationId = id;
  }

  crash(error: unknown, exitCode: number): void {
    if (this.exiting) return;
    this.exiting = true;
    const exit = (): never => process.exit(exitCode);
    setTimeout(exit, FATAL_POST_TIMEOUT_MS).unref();
    if (this.invocationId === undefined) this.client.postInitError(error, exit);
    else this.client.postInvocationError(error, this.invocationId, exit);
  }
}

function isPromiseLike(obj: unknown): obj is PromiseLike<unknown> {
  return (
    (typeof obj === 'object' || typeof obj === 'function') &&
    obj !== null &&
    typeof (obj as { then?: unknown }).then === 'function'
  );
}

export class Runtime {
  private readonly streaming: boolean;

  constructor(
    private readonly client: RapidClient,
    private readonly handler: Handler,
    private readonly handlerIsAsync: boolean,
    private readonly fatal: FatalErrors,
  ) {
    this.streaming = isStreamingHandler(handler);
  }

  /** Start the next iteration on the next turn of the event loop. */
  scheduleIteration(): void {
    setImmediate(() => {
      (this.streaming ? this.handleOnceStreaming() : this.handleOnce()).catch((err: unknown) => {
        // Only a Runtime API or runtime failure gets here, never user code.
        console.log(`Unexpected Top Level Error: ${String(err)}`);
        this.fatal.crash(err, EXIT_UNCAUGHT_EXCEPTION);
      });
    });
  }

  private async handleOnce(): Promise<void> {
    const { body, headers } = await this.client.nextInvocation();
    const id = invokeId(headers);
    setCurrentRequestId(id);
    this.fatal.setInvocation(id);
    const { callback, context, markCompleted } = buildCallbackContext(this.client, id, () =>
      this.scheduleIteration(),
    );
    try {
      this.setDefaultExitListener(id, markCompleted);
      const event: unknown = JSON.parse(body);
      const result = this.handler(event, attachInvokeData(context, headers), callback);
      if (isPromiseLike(result)) {
        Promise.resolve(result).then(context.succeed, context.fail).catch(context.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  /**
   * One invocation of an awslambda.streamifyResponse handler: handler(event, responseStream,
   * context). It must return a promise and end the stream; a failure is sent in the trailers.
   */
  private async handleOnceStreaming(): Promise<void> {
    const { body, headers } = await this.client.nextInvocation();
    const id = invokeId(headers);
    setCurrentRequestId(id);
    this.fatal.setInvocation(id);
    const stream = new ResponseStream(this.client, id);
    let waitForEmptyEventLoop = true;
    const context = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(value: boolean) {
        waitForEmptyEventLoop = value;
      },
    };
    let finished = false;
    const finish = async (error?: unknown): Promise<void> => {
      if (finished) return;
      finished = true;
      BeforeExit.reset();
      if (error !== undefined) {
        logError('Invoke Error', error);
        await stream.fail(error);
      } else {
        await stream.settled();
      }
      if (waitForEmptyEventLoop) BeforeExit.set(() => setImmediate(() => this.scheduleIteration()));
      else this.scheduleIteration();
    };
    // The event loop drained with the handler's promise unsettled.
    BeforeExit.set(() => void finish(new NodeJsExit()));
    try {
      const result = this.handler(JSON.parse(body), stream, attachInvokeData(context, headers));
      if (!isPromiseLike(result)) return await finish('Streaming does not support non-async handlers.');
      if ((await result) !== undefined) console.warn('Streaming handlers ignore return values.');
      await finish(stream.writableEnded ? undefined : 'Response stream is not finished.');
    } catch (err) {
      await finish(err);
    }
  }

  /**
   * If the event loop drains with no completion: an async handler's promise
   * never settled → Runtime.NodeJsExit error; a sync/callback handler that
   * never called back → a null response. Replaced once a callback is called.
   */
  private setDefaultExitListener(id: string, markCompleted: () => void): void {
    BeforeExit.set(() => {
      markCompleted();
      BeforeExit.reset();
      const next = (): void => this.scheduleIteration();
      if (this.handlerIsAsync) {
        const err = new NodeJsExit();
        logError('Invoke Error', err);
        this.client.postInvocationError(err, id, next);
      } else {
        this.client.postInvocationResponse(id, 'null', next);
      }
    });
  }
}
