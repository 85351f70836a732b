"""The Runtime API client: one keep-alive HTTP/1.1 connection, over a Unix socket or TCP.
(A small client on `socket` instead of http.client, which pulls in ssl and email
and would add tens of milliseconds to every cold start.)"""

import socket
import sys

from .lambda_runtime_marshaller import to_json

_API_PREFIX = "/2018-06-01/runtime"
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
_USER_AGENT = "aws-lambda-python/{}.{}.{}-stratus".format(*sys.version_info[:3])


class RuntimeApiError(Exception):
    """The Runtime API could not be reached or answered something unusable."""


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

    def specialization(self):
        """A warm-pool runtime: waits until it is given a function; returns the function's environment."""
        path = "/2018-06-01/stratus/specialization"
        status, _headers, body = self.request("GET", path)
        if status != 200:
            raise RuntimeApiError("GET {} returned {}: {}".format(path, status, body[:500].decode("utf-8", "replace")))
        import json

        return json.loads(body)

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
