"""JSON marshalling (awslambdaric uses simplejson: Decimal → number, bytes → UTF-8 text)."""

import json
import os
import sys

from .lambda_runtime_exception import FaultException

_ENSURE_ASCII = True


def read_settings():
    """ensure_ascii from the runtime's AWS_EXECUTION_ENV (again after a warm-pool runtime is given its function)."""
    global _ENSURE_ASCII
    _ENSURE_ASCII = os.environ.get("AWS_EXECUTION_ENV") not in {
        "AWS_Lambda_python3.12",
        "AWS_Lambda_python3.13",
        "AWS_Lambda_python3.14",
    }


read_settings()


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
