/**
 * The single 'beforeExit' action. bootstrap installs one process listener that
 * calls invoke(); the runtime and the callback context swap the action. It
 * fires when the event loop has drained, which is how the callback style with
 * callbackWaitsForEmptyEventLoop, and never-settled handlers, are detected.
 */
const NO_OP = (): void => {};
let listener: () => void = NO_OP;

export const BeforeExit = {
  invoke(): void {
    listener();
  },
  reset(): void {
    listener = NO_OP;
  },
  set(fn: () => void): void {
    listener = fn;
  },
};
