/**
 * Stratus Node.js runtime (nodejs20.x) — entry point, run inside the sandbox as
 * `node /var/runtime/bootstrap.cjs`. Uses only Node built-ins and files in
 * this directory. CommonJS: no ES module loader is started unless the
 * function's own code is an ES module (it costs a cold start ~15 ms of CPU).
 *
 * Environment:
 *   STRATUS_RUNTIME_API_SOCKET  Runtime API over this Unix socket (optional)
 *   AWS_LAMBDA_RUNTIME_API      host:port of the Runtime API (Host header with a socket)
 *   _HANDLER                    "[dir/]module.function[.nested]"
 *   LAMBDA_TASK_ROOT            function code (default /var/task)
 *
 * Start-up: patch console, install process handlers and the `awslambda` global
 * (streamifyResponse, HttpResponseStream), load the handler (an
 * error is logged, posted to /runtime/init/error and the process exits 129),
 * then loop on /runtime/invocation/next.
 */
import { BeforeExit } from './before-exit.cjs';
import { UnhandledPromiseRejection } from './errors.cjs';
import { logError, patchConsole } from './log-patch.cjs';
import { endpointFromEnv, RapidClient } from './rapid-client.cjs';
import { EXIT_UNCAUGHT_EXCEPTION, EXIT_UNHANDLED_REJECTION, FatalErrors, Runtime } from './runtime.cjs';
import { reseedRandomness, runAfterRestore, runBeforeSnapshot } from './snapstart.cjs';
import { installAwsLambdaGlobal } from './streaming.cjs';
import { isAsyncFunction, loadHandler, type Handler } from './user-function.cjs';

void main();

async function main(): Promise<void> {
  const endpoint = endpointFromEnv(process.env);
  if (typeof endpoint === 'string') {
    process.stderr.write(`stratus nodejs runtime: ${endpoint}\n`);
    process.exit(1);
  }

  const client = new RapidClient(endpoint);
  if (process.env['STRATUS_WARM_POOL'] === '1') {
    // Booted ahead of time for no function in particular: now it learns which one.
    const env = await client.specialization();
    delete process.env['STRATUS_WARM_POOL'];
    Object.assign(process.env, env);
  }
  patchConsole();
  const fatal = new FatalErrors(client);

  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    fatal.crash(error, EXIT_UNCAUGHT_EXCEPTION);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', error);
    fatal.crash(error, EXIT_UNHANDLED_REJECTION);
  });
  BeforeExit.reset();
  process.on('beforeExit', () => BeforeExit.invoke());

  const taskRoot = process.env['LAMBDA_TASK_ROOT'] || '/var/task';
  try {
    // Lambda runs functions with /var/task as the working directory.
    if (process.cwd() !== taskRoot) process.chdir(taskRoot);
  } catch {
    // Missing task root: loading the handler reports it.
  }

  // Handler modules call awslambda.streamifyResponse(...) while they load.
  installAwsLambdaGlobal();

  let handler: Handler | undefined;
  try {
    handler = await loadHandler(taskRoot, process.env['_HANDLER'] ?? '');
  } catch (err) {
    logError('Uncaught Exception', err);
    fatal.crash(err, EXIT_UNCAUGHT_EXCEPTION);
  }
  if (handler && process.env['AWS_LAMBDA_INITIALIZATION_TYPE'] === 'snap-start') await checkpointAndRestore(client, fatal);
  if (handler) new Runtime(client, handler, isAsyncFunction(handler), fatal).scheduleIteration();
}

/** SnapStart: before-snapshot hooks, the checkpoint (restore/next), reseeding, after-restore hooks. */
async function checkpointAndRestore(client: RapidClient, fatal: FatalErrors): Promise<void> {
  try {
    await runBeforeSnapshot();
  } catch (err) {
    logError('Uncaught Exception', err);
    fatal.crash(err, EXIT_UNCAUGHT_EXCEPTION);
    await new Promise(() => {});
  }
  // A full collection first: garbage left by loading the function is not dumped into (and
  // restored from) every clone's snapshot pages.
  (globalThis as { gc?: () => void }).gc?.();
  await client.restoreNext();
  try {
    reseedRandomness();
    await runAfterRestore();
  } catch (err) {
    logError('Uncaught Exception', err);
    client.postRestoreError(err, () => process.exit(EXIT_UNCAUGHT_EXCEPTION));
    await new Promise(() => {});
  }
}
