"""A backup of the pool's store while it serves, and its restore (``sm-clusterstack db``).

``backup`` copies the store with SQLite's online backup API
(``sqlite3.Connection.backup``, Python 3.7 and later; on 3.6, which lacks
it, the dump of one read transaction, ``iterdump``, replayed into the
copy): one consistent snapshot, taken while the shim writes.  The copy is
checked (``durable.inspect``) and then renamed into place.  ``restore``
needs the shim stopped (the caller holds its lock): the backup is
checked, copied beside the store, the store's files set aside, the copy
renamed in, and the pool's marker set to the backup's generation, so
that the next start takes it.
"""

import os
import sqlite3
import typing

from sm_clusterstack import atomicfile
from sm_clusterstack.xapi.db import durable, schema

TIMEOUT = 60.0  # seconds to wait for the store's lock


def copy(source: str, target: str) -> durable.Marker:
    """Copy the store at ``source`` into a new file ``target`` (mode 0600); the copy's pool and generation."""
    tmp = target + ".part"
    for leftover in (tmp, tmp + "-journal"):
        if os.path.exists(leftover):
            os.unlink(leftover)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        src = sqlite3.connect("file:%s?mode=ro" % source, uri=True, timeout=TIMEOUT)
        dst = sqlite3.connect(tmp)
        try:
            _copy(src, dst)
        finally:
            dst.close()
            src.close()
        found = durable.inspect(tmp)
        atomicfile.fsync_path(tmp)
        os.rename(tmp, target)
        atomicfile.fsync_path(os.path.dirname(os.path.abspath(target)))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return found


def _copy(src: sqlite3.Connection, dst: sqlite3.Connection) -> None:
    backup = getattr(src, "backup", None)  # SQLite's online backup API (Python 3.7+)
    if backup is not None:
        backup(dst)
        return
    src.isolation_level = None
    src.execute("BEGIN")  # one snapshot for the whole dump
    try:
        dst.executescript("\n".join(src.iterdump()))
        dst.execute("PRAGMA user_version = %d" % schema.version(src))
        dst.commit()
    finally:
        src.execute("ROLLBACK")


def backup(state_dir: str, target: str) -> durable.Marker:
    """Back the store of ``state_dir`` up into ``target`` (which must not exist); its pool and generation."""
    if os.path.lexists(target):
        raise FileExistsError("%s exists: a backup never replaces a file" % target)
    source = os.path.join(state_dir, durable.DB_NAME)
    if not os.path.isfile(source):
        raise durable.Refused("%s holds no pool database" % state_dir)
    return copy(source, target)


def restore(state_dir: str, source: str) -> typing.Tuple[durable.Marker, typing.List[str]]:
    """Make the backup ``source`` the store of ``state_dir`` (its shim stopped); its pool and generation, and
    where the replaced files were set aside."""
    found = durable.inspect(source)  # Refused for a backup that is not sound
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    store = os.path.join(state_dir, durable.DB_NAME)
    staged = copy(source, store + ".restoring")
    moved = durable.set_aside(state_dir)
    os.rename(store + ".restoring", store)
    atomicfile.fsync_path(state_dir)
    durable.MarkerWriter(state_dir).write(staged, force=True)
    return found, moved
