"""
Stratus Python runtime (python3.11): the runtime client proper, a package laid
out as AWS's own (awslambdaric), imported by bootstrap.py (the launcher run as
`/usr/bin/python3 -u /var/runtime/bootstrap.py`). Kept out of the launcher so
it can be byte-compiled ahead of time: a script run as __main__ is compiled on
every start.

Standard library only. Behaviour follows AWS Lambda's managed Python runtime
(/var/runtime/bootstrap.py + awslambdaric 3.x): handler loading and its
Runtime.* init errors, the error document {errorMessage, errorType, requestId,
stackTrace}, the `context` object, root-logger set-up and log formats, and
JSON marshalling (simplejson-compatible for Decimal and bytes).

Modules:
  bootstrap                    main(): connect, load the handler, the invoke loop
  lambda_runtime_client        the Runtime API client (HTTP/1.1 over a Unix socket or TCP)
  lambda_handler_loader        sys.path set-up and "module.function" loading (Runtime.* init errors)
  lambda_context               the `context` object passed to the handler
  lambda_runtime_exception     FaultException, the error document, the fatal exit
  lambda_runtime_marshaller    JSON in and out
  lambda_runtime_log_utils     stdout/stderr wrapping, the root logger, error log lines
  snapstart                    SnapStart: before-snapshot hooks, the checkpoint, after-restore hooks

Environment:
  STRATUS_RUNTIME_API_SOCKET  speak HTTP/1.1 over this Unix socket (optional)
  AWS_LAMBDA_RUNTIME_API      host:port of the Runtime API (the Host header with a socket)
  _HANDLER                    "module.function"; module may be "pkg/mod" or "pkg.mod"
  LAMBDA_TASK_ROOT            function code (default /var/task), first on sys.path
  AWS_LAMBDA_LOG_FORMAT       TEXT (default) or JSON
  AWS_LAMBDA_LOG_LEVEL        root logger level; unset leaves Python's default (WARNING)

Exit codes: 1 after an init error (posted to /runtime/init/error first), and 1
when the Runtime API is not configured, unreachable or answers nonsense.
"""
