"""
Stratus Python runtime (python3.11): the runtime client proper, imported by
bootstrap.py (the launcher run as `/usr/bin/python3 -u /var/runtime/bootstrap.py`).
Kept out of the launcher so it can be byte-compiled ahead of time: a script run
as __main__ is compiled on every start.

Standard library only. Behaviour follows AWS Lambda's managed Python runtime
(/var/runtime/bootstrap.py + awslambdaric 3.x): handler loading and its
Runtime.* init errors, the error document {errorMessage, errorType, requestId,
stackTrace}, the `context` object, root-logger set-up and log formats, and
JSON marshalling (simplejson-compatible for Decimal and bytes).

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

import json
import logging
import os
import socket
import sys
import time

_API_PREFIX = "/2018-06-01/runtime"
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
_USER_AGENT = "aws-lambda-python/{}.{}.{}-stratus".format(*sys.version_info[:3])
_THIS_FILE = os.path.abspath(__file__)
_RUNTIME_DIR = os.path.dirname(_THIS_FILE)
# Frames of these files lead every traceback and are left out of stackTrace.
_RUNTIME_FILES = {_THIS_FILE, os.path.join(_RUNTIME_DIR, "bootstrap.py")}

ERROR_LOG_LINE_TERMINATE = "\r"
ERROR_LOG_IDENT = "\u00a0"  # NO-BREAK SPACE; replaces leading spaces of trace lines in logs

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


def _fatal(message):
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


# --------------------------------------------------------------------------------------
# Errors


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


class RuntimeApiError(Exception):
    """The Runtime API could not be reached or answered something unusable."""


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


def _user_frames(tb):
    """Traceback tuples, without the runtime's own leading frames."""
    import traceback

    tuples = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, t in enumerate(tuples):
        if "/bootstrap.py" not in t[0] and t[0] not in _RUNTIME_FILES:
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


# --------------------------------------------------------------------------------------
# JSON marshalling (awslambdaric uses simplejson: Decimal → number, bytes → UTF-8 text)

_ENSURE_ASCII = os.environ.get("AWS_EXECUTION_ENV") not in {
    "AWS_Lambda_python3.12",
    "AWS_Lambda_python3.13",
    "AWS_Lambda_python3.14",
}


class _Encoder(json.JSONEncoder):
    """json.JSONEncoder that also writes Decimal as a raw JSON number (NaN for NaN)
    and bytes as UTF-8 text, as awslambdaric's simplejson encoder does."""

    _nonce = None

    def __init__(self):
        super().__init__(ensure_ascii=_ENSURE_ASCII, allow_nan=True)
        self._raw = []

    def default(self, obj):
        decimal = sys.modules.get("decimal")
        if decimal is not None and isinstance(obj, decimal.Decimal):
            if obj.is_nan():
                return float("nan")
            if _Encoder._nonce is None:
                _Encoder._nonce = os.urandom(8).hex()
            self._raw.append(str(obj))
            return "\x00stratus-raw-json:{}:{}\x00".format(_Encoder._nonce, len(self._raw) - 1)
        if isinstance(obj, (bytes, bytearray)):
            return bytes(obj).decode("utf-8")
        return super().default(obj)

    def encode(self, o):
        self._raw = []
        text = super().encode(o)
        if self._raw:
            import re

            raw = self._raw
            pattern = r'"\\u0000stratus-raw-json:{}:(\d+)\\u0000"'.format(_Encoder._nonce)
            text = re.sub(pattern, lambda m: raw[int(m.group(1))], text)
        return text


def to_json(obj):
    return _Encoder().encode(obj)


def unmarshal_request(body, content_type):
    # awslambdaric passes anything but application/json through as bytes; the
    # Runtime API always sends application/json, and a missing header counts as JSON.
    if content_type is not None and content_type != "application/json":
        return body
    try:
        return json.loads(body)
    except Exception as e:
        raise FaultException(
            FaultException.UNMARSHAL_ERROR,
            "Unable to unmarshal input: {}".format(str(e)),
            None,
        )


def marshal_response(response):
    if isinstance(response, bytes):
        return response, "application/unknown"
    try:
        return to_json(response).encode("utf-8"), "application/json"
    except Exception as e:
        raise FaultException(
            FaultException.MARSHAL_ERROR,
            "Unable to marshal response: {}".format(str(e)),
            None,
        )


# --------------------------------------------------------------------------------------
# Runtime API client: one keep-alive HTTP/1.1 connection, over a Unix socket or TCP.
# (A small client on `socket` instead of http.client, which pulls in ssl and email
# and would add tens of milliseconds to every cold start.)


class _NoResponse(Exception):
    """The connection closed before a status line arrived (stale keep-alive)."""


def _quote_path_segment(value):
    out = []
    for b in value.encode("utf-8"):
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in "-._~"):
            out.append(c)
        else:
            out.append("%{:02X}".format(b))
    return "".join(out)


def _header_value(value):
    # Header values may not carry control or non-Latin-1 characters.
    return "".join(c for c in str(value) if c == "\t" or " " <= c <= "~")


def endpoint_from_env(env):
    """(socket_path, (host, port), host_header), or a string saying what is wrong."""
    api = env.get("AWS_LAMBDA_RUNTIME_API") or None
    socket_path = env.get("STRATUS_RUNTIME_API_SOCKET") or None
    if socket_path:
        return socket_path, None, api or "localhost"
    if not api:
        return "neither STRATUS_RUNTIME_API_SOCKET nor AWS_LAMBDA_RUNTIME_API is set; cannot reach the Runtime API"
    colon = api.rfind(":")
    host, port = (api[:colon], api[colon + 1:]) if colon > 0 else (api, "80")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port_number = int(port)
    except ValueError:
        port_number = -1
    if not host or not port.isdigit() or not 0 < port_number < 65536:
        return "AWS_LAMBDA_RUNTIME_API must be host:port, got {!r}".format(api)
    return None, (host, port_number), api


class RuntimeApiClient:
    def __init__(self, socket_path, address, host_header):
        self.socket_path = socket_path
        self.address = address
        self.host_header = host_header
        self._sock = None
        self._rfile = None

    def describe(self):
        if self.socket_path:
            return "unix:{}".format(self.socket_path)
        return "{}:{}".format(*self.address)

    def connect(self):
        self.close()
        try:
            if self.socket_path:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(self.socket_path)
                except BaseException:
                    sock.close()
                    raise
            else:
                sock = socket.create_connection(self.address)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as e:
            raise RuntimeApiError("cannot connect to the Runtime API at {}: {}".format(self.describe(), e))
        self._sock = sock
        self._rfile = sock.makefile("rb")

    def close(self):
        if self._rfile is not None:
            try:
                self._rfile.close()
            except OSError:
                pass
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._rfile = None

    def request(self, method, path, body=None, headers=()):
        lines = ["{} {} HTTP/1.1".format(method, path), "Host: " + self.host_header, "User-Agent: " + _USER_AGENT]
        for name, value in headers:
            lines.append("{}: {}".format(name, value))
        if body is not None:
            lines.append("Content-Length: {}".format(len(body)))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if body:
            data += body
        for attempt in (1, 2):
            fresh = self._sock is None
            if fresh:
                self.connect()
            try:
                self._sock.sendall(data)
                return self._read_response(method)
            except (_NoResponse, ConnectionResetError, BrokenPipeError) as e:
                self.close()
                # A reused keep-alive connection the server had closed: retry once on a new one.
                if fresh or attempt == 2:
                    raise RuntimeApiError(
                        "{} {}: connection to {} closed: {}".format(method, path, self.describe(), str(e) or "no response")
                    )
            except OSError as e:
                self.close()
                raise RuntimeApiError("{} {}: {}".format(method, path, e))
        raise RuntimeApiError("unreachable")

    def _read_line(self):
        line = self._rfile.readline(65537)
        if len(line) > 65536:
            raise RuntimeApiError("Runtime API sent an overlong header line")
        return line

    def _read_response(self, method):
        while True:
            line = self._read_line()
            if not line:
                raise _NoResponse()
            parts = line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
                raise RuntimeApiError("Runtime API sent a malformed status line: {!r}".format(line))
            version, status = parts[0], int(parts[1])
            headers = {}
            while True:
                h = self._read_line()
                if not h:
                    raise RuntimeApiError("Runtime API closed the connection inside response headers")
                if h in (b"\r\n", b"\n"):
                    break
                name, sep, value = h.partition(b":")
                if not sep:
                    continue
                try:
                    text = value.strip().decode("utf-8")
                except UnicodeDecodeError:
                    text = value.strip().decode("latin-1")
                headers.setdefault(name.strip().decode("latin-1").lower(), text)
            if 100 <= status < 200 and status != 101:
                continue  # interim response
            break
        keep_alive = version != b"HTTP/1.0"
        connection = headers.get("connection", "").lower()
        if "close" in connection:
            keep_alive = False
        elif "keep-alive" in connection:
            keep_alive = True
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise RuntimeApiError("Runtime API sent a bad Content-Length")
            body = self._rfile.read(length)
            if len(body) != length:
                raise RuntimeApiError("Runtime API closed the connection inside a response body")
        else:
            body = self._rfile.read()
            keep_alive = False
        if not keep_alive:
            self.close()
        return status, headers, body

    def _read_chunked(self):
        chunks = []
        while True:
            line = self._read_line()
            if not line:
                raise RuntimeApiError("Runtime API closed the connection inside a chunked body")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise RuntimeApiError("Runtime API sent a bad chunk size")
            if size == 0:
                while True:  # trailers
                    t = self._read_line()
                    if not t or t in (b"\r\n", b"\n"):
                        return b"".join(chunks)
            data = self._rfile.read(size)
            if len(data) != size:
                raise RuntimeApiError("Runtime API closed the connection inside a chunked body")
            chunks.append(data)
            self._read_line()  # CRLF after the chunk

    # --- Runtime API calls ------------------------------------------------------------

    def wait_next_invocation(self):
        path = _API_PREFIX + "/invocation/next"
        status, headers, body = self.request("GET", path)
        if status != 200:
            raise RuntimeApiError(
                "GET {} returned {}: {}".format(path, status, body[:500].decode("utf-8", "replace"))
            )
        return headers, body

    def post_invocation_result(self, invoke_id, body, content_type):
        path = "{}/invocation/{}/response".format(_API_PREFIX, _quote_path_segment(invoke_id))
        # The status is not acted upon: the Runtime API has recorded the outcome
        # (e.g. 413 for an oversized response) and the next GET carries on.
        self.request("POST", path, body, [("Content-Type", content_type)])

    def post_invocation_error(self, invoke_id, error_result):
        path = "{}/invocation/{}/error".format(_API_PREFIX, _quote_path_segment(invoke_id))
        self._post_error(path, error_result)

    def post_init_error(self, error_result):
        self._post_error(_API_PREFIX + "/init/error", error_result)

    def restore_next(self):
        """SnapStart: waits across the checkpoint; returns in each restored clone."""
        path = _API_PREFIX + "/restore/next"
        status, _headers, body = self.request("GET", path)
        if status != 200:
            raise RuntimeApiError("GET {} returned {}: {}".format(path, status, body[:500].decode("utf-8", "replace")))

    def post_restore_error(self, error_result):
        self._post_error(_API_PREFIX + "/restore/error", error_result)

    def _post_error(self, path, error_result):
        body = to_json(error_result).encode("utf-8")
        headers = [
            ("Content-Type", "application/json"),
            (_ERROR_TYPE_HEADER, _header_value(error_result.get("errorType", ""))),
        ]
        self.request("POST", path, body, headers)


# --------------------------------------------------------------------------------------
# Context


class LambdaContext(object):
    def __init__(
        self,
        invoke_id,
        client_context,
        cognito_identity,
        epoch_deadline_time_in_ms,
        invoked_function_arn=None,
        tenant_id=None,
    ):
        self.aws_request_id = invoke_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        # A string, exactly as in AWS Lambda's Python runtime.
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id

        self.client_context = make_obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = make_obj_from_dict(Client, self.client_context.client)

        self.identity = make_obj_from_dict(CognitoIdentity, {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")

        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        epoch_now_in_ms = int(time.time() * 1000)
        delta_ms = self._epoch_deadline_time_in_ms - epoch_now_in_ms
        return delta_ms if delta_ms > 0 else 0

    def log(self, msg):
        for handler in logging.getLogger().handlers:
            if hasattr(handler, "log_sink"):
                handler.log_sink.log(str(msg))
                return
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}"
            "])"
        )


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}"
            "])"
        )


class Client(object):
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"installation_id={self.installation_id},"
            f"app_title={self.app_title},"
            f"app_version_name={self.app_version_name},"
            f"app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}"
            "])"
        )


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"custom={self.custom},"
            f"env={self.env},"
            f"client={self.client}"
            "])"
        )


def make_obj_from_dict(_class, _dict):
    if _dict is None:
        return None
    obj = _class()
    for field in _class.__slots__:
        setattr(obj, field, _dict.get(field, None))
    return obj


def parse_json_header(header, name):
    try:
        return json.loads(header)
    except Exception as e:
        raise FaultException(
            FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR,
            "Unable to parse {} JSON: {}".format(name, str(e)),
            None,
        )


def create_lambda_context(client_context_json, cognito_identity_json, deadline_ms, invoke_id, arn, tenant_id):
    client_context = None
    if client_context_json:
        client_context = parse_json_header(client_context_json, "Client Context")
    cognito_identity = None
    if cognito_identity_json:
        cognito_identity = parse_json_header(cognito_identity_json, "Cognito Identity")
    return LambdaContext(invoke_id, client_context, cognito_identity, deadline_ms, arn, tenant_id)


# --------------------------------------------------------------------------------------
# Output and logging

_GLOBAL_AWS_REQUEST_ID = None
_GLOBAL_TENANT_ID = None

_JSON_LOG = (os.environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
# awslambdaric: None → "", "TRACE" → "DEBUG", anything else upper-cased.
_LOG_LEVEL = {None: "", "TRACE": "DEBUG"}.get(
    os.environ.get("AWS_LAMBDA_LOG_LEVEL"), os.environ.get("AWS_LAMBDA_LOG_LEVEL")
).upper()
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
    def filter(self, record):
        record.aws_request_id = _GLOBAL_AWS_REQUEST_ID or ""
        record.tenant_id = _GLOBAL_TENANT_ID
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


def setup_logging(log_sink):
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
    handler.addFilter(LambdaLoggerFilter())
    logger.addHandler(handler)


def flush_output():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


# --------------------------------------------------------------------------------------
# Handler loading


def set_default_sys_path(task_root):
    """Precedence: LAMBDA_TASK_ROOT → /opt/python/lib/pythonX.Y/site-packages → /opt/python,
    then this directory, then the interpreter's own paths."""
    opt_site = "/opt/python/lib/python{}.{}/site-packages".format(*sys.version_info[:2])
    pythonpath_set = "PYTHONPATH" in os.environ
    if not pythonpath_set:
        sys.path.insert(0, "/opt/python")
        sys.path.insert(0, opt_site)
    sys.path.insert(0, task_root)
    # Site directories, so that .pth files in the task root and layers are honoured.
    import site

    site.addsitedir(task_root)
    if not pythonpath_set:
        site.addsitedir(opt_site)
        site.addsitedir("/opt/python")
        os.environ["PYTHONPATH"] = os.environ.get("LAMBDA_RUNTIME_DIR") or _RUNTIME_DIR


def get_handler(handler):
    try:
        (modname, fname) = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(
            FaultException.MALFORMED_HANDLER_NAME,
            "Bad handler '{}': {}".format(handler, str(e)),
        )

    import importlib

    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                FaultException.BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module {} as a handler module".format(modname),
            )
        m = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR,
            "Unable to import module '{}': {}".format(modname, str(e)),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '{}': {}".format(modname, str(e)),
            trace,
        )

    try:
        return getattr(m, fname)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND,
            "Handler '{}' missing on module '{}'".format(fname, modname),
            None,
        )


# --------------------------------------------------------------------------------------
# The loop


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


def _run_hooks(hooks):
    for func, args, kwargs in hooks:
        func(*args, **kwargs)


def snapshot_and_restore(client, log_sink):
    """SnapStart: before-snapshot hooks, the checkpoint (GET restore/next), then in the clone
    reseeding and after-restore hooks. Returns an init error document, or None."""
    import random

    import snapshot_restore_py

    try:
        _run_hooks(snapshot_restore_py.get_before_snapshot())
    except Exception:
        return build_fault_result(sys.exc_info())
    flush_output()
    try:
        client.restore_next()
    except RuntimeApiError as e:
        _fatal("cannot be restored: {}".format(e))
    # Clones share the snapshot's memory: the `random` module's state would repeat in each.
    # os.urandom, uuid.uuid4 and secrets read the kernel and need nothing.
    random.seed()
    try:
        _run_hooks(snapshot_restore_py.get_after_restore())
    except Exception:
        error_result = build_fault_result(sys.exc_info())
        log_error(error_result, log_sink)
        flush_output()
        client.post_restore_error(error_result)
        os._exit(1)
    return None


def main():
    global _GLOBAL_AWS_REQUEST_ID, _GLOBAL_TENANT_ID

    endpoint = endpoint_from_env(os.environ)
    if isinstance(endpoint, str):
        _fatal(endpoint)
    client = RuntimeApiClient(*endpoint)
    try:
        client.connect()  # fail fast, before user code is loaded
    except RuntimeApiError as e:
        _fatal(e)

    task_root = os.environ.get("LAMBDA_TASK_ROOT") or "/var/task"
    set_default_sys_path(task_root)
    try:
        os.chdir(task_root)  # Lambda runs functions in the task root
    except OSError:
        pass

    sys.stdout = Unbuffered(sys.stdout)
    sys.stderr = Unbuffered(sys.stderr)
    log_sink = StandardLogSink()

    error_result = None
    try:
        setup_logging(log_sink)
        request_handler = get_handler(os.environ.get("_HANDLER", ""))
    except FaultException as e:
        error_result = make_error(e.msg, e.exception_type, e.trace)
    except Exception:
        error_result = build_fault_result(sys.exc_info())

    if error_result is None and os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
        error_result = snapshot_and_restore(client, log_sink)

    if error_result is not None:
        logging.warning(_LAMBDA_UNHANDLED_EXCEPTION_WARNING)
        log_error(error_result, log_sink)
        flush_output()
        try:
            client.post_init_error(error_result)
        except RuntimeApiError as e:
            _fatal("could not report the init error: {}".format(e))
        flush_output()
        # os._exit: threads the function started at import must not keep us alive.
        os._exit(1)

    while True:
        try:
            headers, body = client.wait_next_invocation()
        except RuntimeApiError as e:
            _fatal("cannot get the next invocation: {}".format(e))
        invoke_id = headers.get("lambda-runtime-aws-request-id")
        if not invoke_id:
            _fatal("the next invocation has no Lambda-Runtime-Aws-Request-Id header")
        _GLOBAL_AWS_REQUEST_ID = invoke_id
        _GLOBAL_TENANT_ID = headers.get("lambda-runtime-aws-tenant-id")
        update_xray_env_variable(headers.get("lambda-runtime-trace-id") or None)
        try:
            handle_event_request(client, request_handler, headers, body, log_sink)
        except RuntimeApiError as e:
            _fatal("cannot post the outcome of {}: {}".format(invoke_id, e))

