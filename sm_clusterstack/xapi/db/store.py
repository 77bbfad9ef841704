"""The pool's store: one SQLite file in WAL mode, shared by threads and processes.

Reads run in a deferred transaction (one consistent snapshot); writes run
under ``BEGIN IMMEDIATE``, so every write transaction is pool-wide and
serialised, across threads and processes alike.  Maps and sets are stored
as JSON text.  Every row a write adds, changes or deletes is recorded in
the ``event`` table by the schema's triggers (``schema``), whatever path
wrote it; a write of this process wakes those waiting for a commit
(``wait_for_commit``), a write of another process is seen at the next poll.
"""

import contextlib
import json
import os
import queue
import sqlite3
import stat
import threading
import typing
import uuid as uuid_mod

from sm_clusterstack import stacks
from sm_clusterstack.xapi.db import schema

NULL_REF = "OpaqueRef:NULL"
BUSY_TIMEOUT = 60.0  # seconds a writer waits for the pool-wide lock
DB_NAME = "pool.db"


class UnsafeStateError(ValueError):
    """A state directory or secret that others could read or replace; the text names the path."""


def check_state_dir(path: str) -> None:
    """UnsafeStateError unless ``path`` (existing or not) and every directory above it are ours alone.

    The state holds the sessions and decides what runs as root: a
    directory writable by another user (0777, or below one) could swap it.
    """
    existing = path
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    problems = stacks.path_problems(existing, os.geteuid())
    if existing == path and not problems and not os.path.isdir(path):
        problems = ["%s: not a directory" % path]
    if problems:
        raise UnsafeStateError("unsafe state directory: " + "; ".join(problems))


def check_secret_file(path: str) -> None:
    """UnsafeStateError unless ``path`` is a regular file of ours that nobody else may read or write."""
    problems = stacks.path_problems(path, os.geteuid())
    if not problems:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            problems = ["%s: not a regular file" % path]
        elif st.st_uid != os.geteuid():
            problems = ["%s: owned by uid %d, not %d" % (path, st.st_uid, os.geteuid())]
        elif st.st_mode & 0o077:
            problems = ["%s: readable or writable by others (mode %04o; chmod 600)" % (path, stat.S_IMODE(st.st_mode))]
    if problems:
        raise UnsafeStateError("unsafe password file: " + "; ".join(problems))


def create_private(path: str) -> None:
    """Create ``path`` as an empty file of mode 0600 unless it exists (no umask can widen it)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def new_ref() -> str:
    """A fresh ``OpaqueRef:<uuid>``."""
    return "OpaqueRef:" + str(uuid_mod.uuid4())


def new_uuid() -> str:
    """A fresh uuid string."""
    return str(uuid_mod.uuid4())


def dumps(value: typing.Any) -> str:
    """A map or set as stored (JSON, keys sorted)."""
    return json.dumps(value, sort_keys=True)


def loads(text: str) -> typing.Any:
    """A stored map or set back."""
    return json.loads(text) if text else None


@contextlib.contextmanager
def read_only(path: str, timeout: float = BUSY_TIMEOUT) -> typing.Iterator[sqlite3.Connection]:
    """A read-only connection to the store file at ``path`` (no migration, no lock taken for writing)."""
    conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=timeout)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


class Store(object):
    """The pool database in ``state_dir``; migrated to the latest schema on open."""

    def __init__(self, state_dir: str, migrate: bool = True) -> None:
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, DB_NAME)
        check_state_dir(state_dir)
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        self._idle = queue.LifoQueue()
        self._committed = threading.Condition()
        self._commits = 0  # write transactions this process committed
        create_private(self.path)  # sessions live here; SQLite gives -wal/-shm the same mode
        conn = self._connect()
        os.chmod(self.path, 0o600)  # a store made by an older version
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            if migrate:
                schema.migrate(conn)
        finally:
            self._release(conn)

    def _connect(self) -> sqlite3.Connection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _release(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        self._idle.put(conn)

    @contextlib.contextmanager
    def read(self) -> typing.Iterator[sqlite3.Connection]:
        """A connection inside a read transaction: one consistent snapshot."""
        with self._transaction("BEGIN") as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> typing.Iterator[sqlite3.Connection]:
        """A connection inside the pool-wide write transaction; commits on success."""
        with self._transaction("BEGIN IMMEDIATE") as conn:
            yield conn

    @contextlib.contextmanager
    def check_only(self) -> typing.Iterator[sqlite3.Connection]:
        """A connection holding the pool-wide write lock, rolled back at the end: a check, never a change."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
        finally:
            self._release(conn)

    @contextlib.contextmanager
    def _transaction(self, begin: str) -> typing.Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            conn.execute(begin)
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            self._release(conn)
        if begin != "BEGIN":
            with self._committed:
                self._commits += 1
                self._committed.notify_all()

    def commits(self) -> int:
        """How many write transactions this process has committed: a mark for ``wait_for_commit``."""
        with self._committed:
            return self._commits

    def wait_for_commit(self, seen: int, timeout: float) -> int:
        """Wait until a write commits after mark ``seen`` or ``timeout`` seconds pass; the mark now."""
        with self._committed:
            self._committed.wait_for(lambda: self._commits != seen, max(timeout, 0.0))
            return self._commits

    def close(self) -> None:
        """Close every idle connection."""
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def integrity_problems(self) -> typing.List[str]:
        """What PRAGMA integrity_check and foreign_key_check report; [] when sound."""
        with self.read() as conn:
            found = [row[0] for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
            found.extend("foreign key: %s row %s -> %s" % (r[0], r[1], r[2])
                         for r in conn.execute("PRAGMA foreign_key_check"))
        return found


def insert(conn: sqlite3.Connection, table: str, row: typing.Dict[str, typing.Any]) -> None:
    """Insert ``row`` (column -> value; dicts and lists stored as JSON)."""
    cols = sorted(row)
    sql = "INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(cols), ", ".join("?" * len(cols)))
    conn.execute(sql, [_cell(row[c]) for c in cols])


def update(conn: sqlite3.Connection, table: str, ref: str, **values: typing.Any) -> None:
    """Set columns of the row ``ref``."""
    cols = sorted(values)
    conn.execute("UPDATE %s SET %s WHERE ref = ?" % (table, ", ".join("%s = ?" % c for c in cols)),
                 [_cell(values[c]) for c in cols] + [ref])


def delete(conn: sqlite3.Connection, table: str, ref: str) -> None:
    """Delete the row ``ref``."""
    conn.execute("DELETE FROM %s WHERE ref = ?" % table, (ref,))


def row(conn: sqlite3.Connection, table: str, ref: str) -> typing.Optional[sqlite3.Row]:
    """The row ``ref`` of ``table``, or None."""
    return conn.execute("SELECT * FROM %s WHERE ref = ?" % table, (ref,)).fetchone()


def _cell(value: typing.Any) -> typing.Any:
    if isinstance(value, (dict, list, tuple)):
        return dumps(value)
    if isinstance(value, bool):
        return int(value)
    return value
