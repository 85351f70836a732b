"""Errors: the Runtime.* fault exceptions, the error document Lambda shows the caller
({errorMessage, errorType, requestId, stackTrace}) and the fatal exit for Runtime API trouble."""

import os
import sys

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def fatal(message):
    """Runtime API trouble: say so on stderr and exit 1."""
    try:
        sys.stdout.flush()
    except Exception:
        pass
    try:
        sys.stderr.write("stratus python runtime: {}\n".format(message))
        sys.stderr.flush()
    except Exception:
        pass
    os._exit(1)


class FaultException(Exception):
    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

    def __init__(self, exception_type, msg, trace=None):
        super().__init__(msg)
        self.msg = msg
        self.exception_type = exception_type
        self.trace = trace


def make_error(error_message, error_type, stack_trace, invoke_id=None):
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def _safe_str(value):
    try:
        return str(value)
    except Exception:
        return "<exception str() failed>"


def _is_runtime_frame(filename):
    # Frames of the launcher and of this package lead every traceback.
    return "/bootstrap.py" in filename or os.path.dirname(filename) == _PACKAGE_DIR


def _user_frames(tb):
    """Traceback tuples, without the runtime's own leading frames."""
    import traceback

    tuples = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, t in enumerate(tuples):
        if not _is_runtime_frame(t[0]):
            return tuples[i:]
    return tuples


def build_fault_result(exc_info, invoke_id=None):
    import traceback

    etype, value, tb = exc_info
    return make_error(
        _safe_str(value),
        etype.__name__,
        traceback.format_list(_user_frames(tb)),
        invoke_id,
    )
