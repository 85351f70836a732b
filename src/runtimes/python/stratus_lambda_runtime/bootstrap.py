"""The runtime's main loop, as awslambdaric's bootstrap: connect to the Runtime API, load the
handler (or report the init error), then fetch, run and answer invocations one at a time."""

import os
import sys

from . import lambda_runtime_log_utils, lambda_runtime_marshaller
from .lambda_context import create_lambda_context
from .lambda_handler_loader import get_handler, set_default_sys_path
from .lambda_runtime_client import RuntimeApiClient, RuntimeApiError, endpoint_from_env
from .lambda_runtime_exception import FaultException, build_fault_result, fatal, make_error
from .lambda_runtime_log_utils import (
    InvocationIds,
    StandardLogSink,
    Unbuffered,
    flush_output,
    log_error,
    setup_logging_when_imported,
)
from .lambda_runtime_marshaller import marshal_response, unmarshal_request
from .snapstart import snapshot_and_restore

_LAMBDA_UNHANDLED_EXCEPTION_WARNING = (
    "LAMBDA_WARNING: "
    "Unhandled exception. "
    "The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, "
    "or can be applied automatically. "
    "To determine if the runtime has been updated, check the runtime version in the INIT_START log entry. "
    "If this error correlates with a change in the runtime version, you may be able to mitigate this "
    "error by temporarily rolling back to the previous runtime version. "
    "For more information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)


def handle_event_request(client, request_handler, headers, body, log_sink):
    invoke_id = headers["lambda-runtime-aws-request-id"]
    error_result = None
    try:
        try:
            deadline_ms = int(headers.get("lambda-runtime-deadline-ms") or 0)
        except ValueError:
            deadline_ms = 0
        lambda_context = create_lambda_context(
            headers.get("lambda-runtime-client-context"),
            headers.get("lambda-runtime-cognito-identity"),
            deadline_ms,
            invoke_id,
            headers.get("lambda-runtime-invoked-function-arn"),
            headers.get("lambda-runtime-aws-tenant-id"),
        )
        event = unmarshal_request(body, headers.get("content-type"))
        response = request_handler(event, lambda_context)
        result, content_type = marshal_response(response)
    except FaultException as e:
        error_result = make_error(e.msg, e.exception_type, e.trace, invoke_id)
    except Exception:
        error_result = build_fault_result(sys.exc_info(), invoke_id)

    if error_result is not None:
        log_error(error_result, log_sink)
        flush_output()
        client.post_invocation_error(invoke_id, error_result)
    else:
        flush_output()
        client.post_invocation_result(invoke_id, result, content_type)


def update_xray_env_variable(trace_id):
    if trace_id is not None:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    elif "_X_AMZN_TRACE_ID" in os.environ:
        del os.environ["_X_AMZN_TRACE_ID"]


def _connect():
    """The Runtime API client, connected: fail fast, before user code is loaded."""
    endpoint = endpoint_from_env(os.environ)
    if isinstance(endpoint, str):
        fatal(endpoint)
    client = RuntimeApiClient(*endpoint)
    try:
        client.connect()
    except RuntimeApiError as e:
        fatal(e)
    return client


def _init(client, log_sink):
    """The handler, and SnapStart's checkpoint: the handler, or exit 1 after
    posting the init error."""
    request_handler = None
    error_result = None
    try:
        request_handler = get_handler(os.environ.get("_HANDLER", ""))
    except FaultException as e:
        error_result = make_error(e.msg, e.exception_type, e.trace)
    except Exception:
        error_result = build_fault_result(sys.exc_info())

    if error_result is None and os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
        error_result = snapshot_and_restore(client, log_sink)

    if error_result is not None:
        import logging

        logging.warning(_LAMBDA_UNHANDLED_EXCEPTION_WARNING)
        log_error(error_result, log_sink)
        flush_output()
        try:
            client.post_init_error(error_result)
        except RuntimeApiError as e:
            fatal("could not report the init error: {}".format(e))
        flush_output()
        # os._exit: threads the function started at import must not keep us alive.
        os._exit(1)
    return request_handler


def _specialize(client):
    """A warm-pool runtime (booted, its modules imported, before any function was chosen):
    waits for its function, then takes that function's environment as its own."""
    try:
        env = client.specialization()
    except RuntimeApiError as e:
        fatal("cannot get the function of this warm-pool runtime: {}".format(e))
    os.environ.pop("STRATUS_WARM_POOL", None)
    os.environ.update(env)
    lambda_runtime_log_utils.read_settings()
    lambda_runtime_marshaller.read_settings()


def main():
    client = _connect()
    if os.environ.get("STRATUS_WARM_POOL") == "1":
        _specialize(client)

    log_sink = StandardLogSink()
    ids = InvocationIds()
    # Before the function's paths go on sys.path (a .pth file there may import logging).
    setup_logging_when_imported(log_sink, ids)
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or "/var/task"
    set_default_sys_path(task_root)
    try:
        os.chdir(task_root)  # Lambda runs functions in the task root
    except OSError:
        pass

    sys.stdout = Unbuffered(sys.stdout)
    sys.stderr = Unbuffered(sys.stderr)
    request_handler = _init(client, log_sink)

    while True:
        try:
            headers, body = client.wait_next_invocation()
        except RuntimeApiError as e:
            fatal("cannot get the next invocation: {}".format(e))
        invoke_id = headers.get("lambda-runtime-aws-request-id")
        if not invoke_id:
            fatal("the next invocation has no Lambda-Runtime-Aws-Request-Id header")
        ids.set_invocation(invoke_id, headers.get("lambda-runtime-aws-tenant-id"))
        update_xray_env_variable(headers.get("lambda-runtime-trace-id") or None)
        try:
            handle_event_request(client, request_handler, headers, body, log_sink)
        except RuntimeApiError as e:
            fatal("cannot post the outcome of {}: {}".format(invoke_id, e))
