"""
SnapStart runtime hooks for Python functions, as Lambda's `snapshot_restore_py`:

    from snapshot_restore_py import register_before_snapshot, register_after_restore

    @register_before_snapshot
    def close_connections():
        db.close()

    @register_after_restore
    def reconnect():
        global db
        db = connect()

Both also take a function with arguments: register_after_restore(fn, *args, **kwargs).
Before-snapshot hooks run once, after the function's module has loaded and before the
checkpoint, last registered first; after-restore hooks run in every restored clone, in the
order registered, after Stratus has reseeded the `random` module. A failing before-snapshot
hook fails the initialization (the version becomes Failed); a failing after-restore hook
fails the restore (/runtime/restore/error) and that clone is discarded.
"""

_before_snapshot = []
_after_restore = []


def register_before_snapshot(func, *args, **kwargs):
    _before_snapshot.append((func, args, kwargs))
    return func


def register_after_restore(func, *args, **kwargs):
    _after_restore.append((func, args, kwargs))
    return func


def get_before_snapshot():
    return list(reversed(_before_snapshot))


def get_after_restore():
    return list(_after_restore)
