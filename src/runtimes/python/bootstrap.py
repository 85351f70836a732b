"""
Stratus Python runtime (python3.11) -- run inside the sandbox as

    /usr/bin/python3 -u /var/runtime/bootstrap.py

A launcher only: the runtime client is the stratus_lambda_runtime package
beside it, imported (so it can come from __pycache__) before the function's
paths are put ahead of this directory on sys.path.
"""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if not sys.path or sys.path[0] != _HERE:
    sys.path.insert(0, _HERE)  # e.g. PYTHONSAFEPATH=1 leaves the script directory out

from stratus_lambda_runtime.bootstrap import main  # noqa: E402

if __name__ == "__main__":
    main()
