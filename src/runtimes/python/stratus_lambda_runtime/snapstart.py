"""SnapStart: the hooks registered through snapshot_restore_py around the checkpoint."""

import os
import sys

from .lambda_runtime_client import RuntimeApiError
from .lambda_runtime_exception import build_fault_result, fatal
from .lambda_runtime_log_utils import flush_output, log_error


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
        fatal("cannot be restored: {}".format(e))
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
