"""Handler loading: sys.path as Lambda sets it, and "module.function" resolved to the
handler or to the Runtime.* init error that says why not."""

import os
import sys

from .lambda_runtime_exception import FaultException

# The runtime directory (/var/runtime): this package's parent, where bootstrap.py is.
_RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def set_default_sys_path(task_root):
    """Precedence: LAMBDA_TASK_ROOT → /opt/python/lib/pythonX.Y/site-packages → /opt/python,
    then the runtime directory, then the interpreter's own paths."""
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
