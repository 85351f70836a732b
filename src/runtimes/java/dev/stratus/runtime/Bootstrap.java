package dev.stratus.runtime;

import java.io.IOException;
import java.util.Map;
import org.crac.CheckpointException;
import org.crac.RestoreException;

/**
 * Stratus's java17 runtime client, run in the sandbox as
 * `java ... -cp /var/runtime/lib/stratus-java-runtime.jar:/var/task:/var/task/lib/* dev.stratus.runtime.Bootstrap`.
 * It loads _HANDLER (an error is posted to /runtime/init/error and the JVM exits 1), with
 * SnapStart (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start) runs the CRaC resources'
 * beforeCheckpoint, waits on /runtime/restore/next across the checkpoint and runs their
 * afterRestore in the clone, then loops on /runtime/invocation/next.
 */
public final class Bootstrap {
    private static final int EXIT_INIT_ERROR = 1;

    private Bootstrap() {
    }

    public static void main(String[] args) {
        Map<String, String> env = System.getenv();
        RuntimeClient client;
        try {
            client = new RuntimeClient(env);
        } catch (RuntimeException e) {
            System.err.println("stratus java runtime: " + e.getMessage());
            System.exit(EXIT_INIT_ERROR);
            return;
        }
        RuntimeLogger logger = new RuntimeLogger(env);
        HandlerLoader.Invoker invoker;
        try {
            ClassLoader loader = ClassLoader.getSystemClassLoader();
            Thread.currentThread().setContextClassLoader(loader);
            invoker = HandlerLoader.load(env.get("_HANDLER"), loader);
        } catch (HandlerLoader.LoadError e) {
            failInit(client, ErrorShape.of(e.errorType, e.getMessage(), null), e.getCause() != null ? e.getCause() : e);
            return;
        } catch (Throwable t) {
            failInit(client, ErrorShape.of(t), t);
            return;
        }
        if ("snap-start".equals(env.get("AWS_LAMBDA_INITIALIZATION_TYPE"))) checkpointAndRestore(client);
        serve(client, invoker, env, logger);
    }

    private static void failInit(RuntimeClient client, ErrorShape error, Throwable shown) {
        printError(error, shown);
        try {
            client.postInitError(error);
        } catch (IOException e) {
            System.err.println("stratus java runtime: could not post the init error: " + e.getMessage());
        }
        System.exit(EXIT_INIT_ERROR);
    }

    private static void printError(ErrorShape error, Throwable t) {
        System.out.flush();
        // As Lambda's Java runtime logs it: "<message>: <type>", then the stack trace.
        System.err.println(error.errorMessage + ": " + error.errorType);
        ErrorShape.unwrap(t).printStackTrace(System.err);
        System.err.flush();
    }

    /** SnapStart: beforeCheckpoint hooks, the checkpoint (restore/next), afterRestore hooks. */
    private static void checkpointAndRestore(RuntimeClient client) {
        try {
            CracContext.global().beforeCheckpoint(null);
        } catch (CheckpointException e) {
            Throwable first = e.getSuppressed().length > 0 ? e.getSuppressed()[0] : e;
            failInit(client, ErrorShape.of(first), first);
            return;
        }
        // Garbage of the initialization is not dumped into (and restored from) every clone.
        System.gc();
        try {
            client.restoreNext();
        } catch (IOException e) {
            System.err.println("stratus java runtime: restore/next failed: " + e.getMessage());
            System.exit(EXIT_INIT_ERROR);
        }
        try {
            CracContext.global().afterRestore(null);
        } catch (RestoreException e) {
            Throwable first = e.getSuppressed().length > 0 ? e.getSuppressed()[0] : e;
            ErrorShape error = ErrorShape.of(first);
            printError(error, first);
            try {
                client.postRestoreError(error);
            } catch (IOException io) {
                System.err.println("stratus java runtime: could not post the restore error: " + io.getMessage());
            }
            System.exit(EXIT_INIT_ERROR);
        }
    }

    private static void serve(RuntimeClient client, HandlerLoader.Invoker invoker, Map<String, String> env, RuntimeLogger logger) {
        while (true) {
            RuntimeClient.Response next;
            try {
                next = client.next();
            } catch (IOException e) {
                System.err.println("stratus java runtime: " + e.getMessage());
                System.exit(EXIT_INIT_ERROR);
                return;
            }
            String requestId = next.header("Lambda-Runtime-Aws-Request-Id");
            String trace = next.header("Lambda-Runtime-Trace-Id");
            if (trace != null) System.setProperty("com.amazonaws.xray.traceHeader", trace);
            else System.clearProperty("com.amazonaws.xray.traceHeader");
            logger.setRequestId(requestId);
            InvocationContext context = new InvocationContext(env, next, logger);
            byte[] response = null;
            ErrorShape error = null;
            try {
                response = invoker.invoke(next.body, context);
            } catch (HandlerLoader.InputError | HandlerLoader.OutputError e) {
                error = ErrorShape.of("java.lang.RuntimeException", e.getMessage(), e.getCause());
                printError(error, e);
            } catch (Throwable t) {
                // An OutOfMemoryError too: what the handler held is garbage now, and the JVM serves on.
                Throwable cause = ErrorShape.unwrap(t);
                error = ErrorShape.of(cause);
                printError(error, cause);
            }
            System.out.flush();
            System.err.flush();
            try {
                if (error == null) client.postResponse(requestId, response);
                else client.postError(requestId, error);
            } catch (IOException e) {
                System.err.println("stratus java runtime: " + e.getMessage());
                System.exit(EXIT_INIT_ERROR);
            }
        }
    }
}
