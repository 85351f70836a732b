"""Output and logging: sys.stdout/sys.stderr made unbuffered, the root logger's handler
(TEXT or JSON, AWS_LAMBDA_LOG_LEVEL), and the [ERROR] lines of a failed invoke or init."""

import json
import logging
import os
import sys
import time

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


class LambdaLoggerHandler(logging.Handler):
    def __init__(self, log_sink):
        logging.Handler.__init__(self)
        self.log_sink = log_sink

    def emit(self, record):
        msg = self.format(record)
        self.log_sink.log(msg)


class LambdaLoggerFilter(logging.Filter):
    """Stamps each record with the current invocation's request and tenant id."""

    def __init__(self):
        logging.Filter.__init__(self)
        self.aws_request_id = None
        self.tenant_id = None

    def set_invocation(self, aws_request_id, tenant_id):
        self.aws_request_id = aws_request_id
        self.tenant_id = tenant_id

    def filter(self, record):
        record.aws_request_id = self.aws_request_id or ""
        record.tenant_id = self.tenant_id
        return True


_RESERVED_FIELDS = {
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module",
    "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
    "relativeCreated", "thread", "threadName", "processName", "process",
    "aws_request_id", "tenant_id", "_frame_type",
}  # fmt: skip


class JsonFormatter(logging.Formatter):
    """AWS_LAMBDA_LOG_FORMAT=JSON, as awslambdaric's JsonFormatter."""

    _encode = json.JSONEncoder(ensure_ascii=False).encode

    def __init__(self):
        super().__init__(datefmt=_DATETIME_FORMAT)

    def formatTime(self, record, datefmt=None):
        # As awslambdaric: UTC with milliseconds, e.g. 2024-01-02T03:04:05.678Z.
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + ".%03dZ" % int(record.msecs)

    def format(self, record):
        import traceback

        record.levelno = min(50, max(0, record.levelno)) // 10 * 10
        record.levelname = logging.getLevelName(record.levelno)
        exc_info = record.exc_info
        result = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc_info[2]) if exc_info else None,
            "errorType": exc_info[0].__name__ if exc_info else None,
            "errorMessage": str(exc_info[1]) if exc_info else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": "{}:{}:{}".format(record.pathname, record.funcName, record.lineno) if exc_info else None,
        }
        if getattr(record, "tenant_id", None) is not None:
            result["tenantId"] = record.tenant_id
        result.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _RESERVED_FIELDS and key not in result
        )
        result = {k: v for k, v in result.items() if v is not None}
        return self._encode(result) + "\n"


def setup_logging(log_sink, logger_filter):
    logging.Formatter.converter = time.gmtime
    logger = logging.getLogger()
    handler = LambdaLoggerHandler(log_sink)
    if _JSON_LOG:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    # Without AWS_LAMBDA_LOG_LEVEL the root logger keeps Python's default, WARNING.
    if _LOG_LEVEL in logging._nameToLevel:
        logger.setLevel(_LOG_LEVEL)
    handler.addFilter(logger_filter)
    logger.addHandler(handler)


def flush_output():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass
