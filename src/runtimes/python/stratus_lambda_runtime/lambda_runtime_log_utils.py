"""Output and logging: sys.stdout/sys.stderr made unbuffered, the root logger's handler
(TEXT or JSON, AWS_LAMBDA_LOG_LEVEL; lambda_runtime_logging.py, once `logging` is imported),
and the [ERROR] lines of a failed invoke or init."""

import os
import sys
import time
from importlib.machinery import PathFinder

from .lambda_runtime_marshaller import to_json

ERROR_LOG_LINE_TERMINATE = "\r"
ERROR_LOG_IDENT = "\u00a0"  # NO-BREAK SPACE; replaces leading spaces of trace lines in logs

_JSON_LOG = False
_LOG_LEVEL = ""


def read_settings():
    """The log format and level from the environment (again after a warm-pool runtime is given its function)."""
    global _JSON_LOG, _LOG_LEVEL
    _JSON_LOG = (os.environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
    # awslambdaric: None → "", "TRACE" → "DEBUG", anything else upper-cased.
    _LOG_LEVEL = {None: "", "TRACE": "DEBUG"}.get(
        os.environ.get("AWS_LAMBDA_LOG_LEVEL"), os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    ).upper()


read_settings()
_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class Unbuffered(object):
    """sys.stdout/sys.stderr wrapper that flushes after every write (as in Lambda)."""

    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        pass

    def __getattr__(self, attr):
        return getattr(self.stream, attr)

    def write(self, msg):
        self.stream.write(msg)
        self.stream.flush()

    def writelines(self, msgs):
        self.stream.writelines(msgs)
        self.stream.flush()


class StandardLogSink(object):
    """Log records go to (the current) sys.stdout, one write per record."""

    def log(self, msg, frame_type=None):
        # Lambda frames each record; on a pipe a record must end its line.
        sys.stdout.write(msg if msg.endswith("\n") else msg + "\n")

    def log_error(self, message_lines):
        sys.stdout.write(ERROR_LOG_LINE_TERMINATE.join(message_lines) + "\n")


def _replace_line_indentation(line, indent_char, new_indent_char):
    count = 0
    for c in line:
        if c != indent_char:
            break
        count += 1
    return (new_indent_char * count) + line[count:]


def log_error(error_result, log_sink):
    if _JSON_LOG:
        record = {
            "timestamp": time.strftime(_DATETIME_FORMAT, time.gmtime(time.time())),
            "log_level": "ERROR",
            **error_result,
        }
        log_sink.log_error([to_json(record)])
        return
    description = "[ERROR]"
    error_type = error_result.get("errorType")
    if error_type:
        description += " " + error_type
    error_message = error_result.get("errorMessage")
    if error_message:
        if error_type:
            description += ":"
        description += " " + error_message
    lines = [description]
    stack_trace = error_result.get("stackTrace")
    if stack_trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack_trace:
            if element == "":
                lines.append("")
            else:
                for trace_line in element.splitlines():
                    lines.append(_replace_line_indentation(trace_line, " ", ERROR_LOG_IDENT))
    log_sink.log_error(lines)


class InvocationIds(object):
    """The current invocation's request and tenant id, which every log record is stamped with."""

    def __init__(self):
        self.aws_request_id = None
        self.tenant_id = None

    def set_invocation(self, aws_request_id, tenant_id):
        self.aws_request_id = aws_request_id
        self.tenant_id = tenant_id


# The standard library's directories, where the runtime's own modules below always come from.
_STDLIB_PATH = [os.path.dirname(os.__file__), os.path.join(os.path.dirname(os.__file__), "lib-dynload")]
# `logging` and what importing it loads (3.11): in Lambda the runtime has imported them all before the
# task root and /opt/python go on sys.path, so a function's own logging.py (or threading.py, ...) never
# replaces them, and its `import logging` gets the standard library's module.
_STDLIB_FIRST = frozenset((
    "logging", "threading", "traceback", "weakref", "_weakrefset", "string", "linecache", "tokenize", "token", "textwrap",
))  # fmt: skip


class _StdlibFirst(object):
    """Finds each of _STDLIB_FIRST (and anything `logging` itself imports) in the standard library
    only, and runs `after` once, when `logging` has loaded. It stays first on sys.meta_path; it is
    asked only of top-level modules not imported yet."""

    def __init__(self, after):
        self._after = after
        self.in_logging = False

    def find_spec(self, fullname, path=None, target=None):
        if path is not None or not (self.in_logging or fullname in _STDLIB_FIRST):
            return None
        spec = PathFinder.find_spec(fullname, _STDLIB_PATH)
        if spec is not None and spec.loader is not None and fullname == "logging":
            spec.loader = _ThenLoader(spec.loader, self)
        return spec

    def logging_loaded(self):
        after, self._after = self._after, None
        if after is not None:
            after()


class _ThenLoader(object):
    def __init__(self, loader, finder):
        self._loader = loader
        self._finder = finder

    def __getattr__(self, attr):
        return getattr(self._loader, attr)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._finder.in_logging = True
        try:
            self._loader.exec_module(module)
        finally:
            self._finder.in_logging = False
        self._finder.logging_loaded()


def setup_logging_when_imported(log_sink, ids):
    """The root logger's Lambda handler, installed as `logging` is first imported (by the
    function, a library or the runtime itself) and before anything can log: importing
    logging costs every cold start ~7 ms of CPU, so a function that never logs never pays it.
    `logging` and the modules it loads are the standard library's whatever the function's paths
    hold (_StdlibFirst), as in Lambda."""

    def setup():
        from .lambda_runtime_logging import setup_logging

        setup_logging(log_sink, ids, _JSON_LOG, _LOG_LEVEL)

    if "logging" in sys.modules:
        setup()
    else:
        sys.meta_path.insert(0, _StdlibFirst(setup))


def flush_output():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass
