"""The pool's store: one SQLite file in WAL mode, shared by threads and processes.

Reads run in a deferred transaction (one consistent snapshot); writes run
under ``BEGIN IMMEDIATE``, so every write transaction is pool-wide and
serialised, across threads and processes alike.  Maps and sets are stored
as JSON text.  Every row a write adds, changes or deletes is recorded in
the ``event`` table by the schema's triggers (``schema``), whatever path
wrote it; a write of this process wakes those waiting for a commit
(``wait_for_commit``), a write of another process is seen at the next poll.

Durability as SQLite documents it: ``synchronous=FULL``, so a commit is on
disk (its WAL frames flushed) before it is acknowledged.  A store opened
``marked`` (the one ``serve`` serves) counts its generation in every write
and records it in the pool's marker after the commit (``durable``), and
refuses every write, loudly, once its state directory or its database file
was removed or replaced (another inode or device than at open): the
writes would go to a file nobody will read again.  A full disk refuses a
write with DiskFull (nothing of it is written); reads go on.
"""

import contextlib
import json
import logging
import os
import queue
import sqlite3
import stat
import threading
import typing
import uuid as uuid_mod

from sm_clusterstack import errors, stacks
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.db import durable, schema

LOG = logging.getLogger("sm_clusterstack.xapi")
NULL_REF = "OpaqueRef:NULL"
BUSY_TIMEOUT = 60.0  # seconds a writer waits for the pool-wide lock
DB_NAME = durable.DB_NAME
DISK_FULL = "database or disk is full"  # SQLITE_FULL's message (sqlite3 of Python 3.6 has no error codes)


class WriteRefused(XenAPIError):
    """A write the store refuses, nothing of it written: INTERNAL_ERROR [why, what to do]."""


class DiskFull(WriteRefused):
    """The disk of the store is full."""

    def __init__(self, state_dir: str) -> None:
        super(DiskFull, self).__init__(
            errors.INTERNAL_ERROR, "the disk of the pool database is full (%s): nothing was written; "
                                   "reads go on, writes resume once space is freed there" % state_dir)


class StateReplaced(WriteRefused):
    """The state directory or its database was removed or replaced while the store was open."""

    def __init__(self, what: str) -> None:
        super(StateReplaced, self).__init__(
            errors.INTERNAL_ERROR, "%s: writes are refused; stop the shim and restore the state directory "
                                   "(sm-clusterstack db restore), or start with --new-pool" % what)


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
    """The pool database in ``state_dir``; migrated to the latest schema on open.

    ``marked``: count generations and write the pool's marker (``durable``),
    and watch the state directory (the store ``serve`` serves).
    """

    def __init__(self, state_dir: str, migrate: bool = True, marked: bool = False) -> None:
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
            self._counts = schema.version(conn) >= 5
        finally:
            self._release(conn)
        self.markers = durable.MarkerWriter(state_dir) if marked else None
        self._pool_uuid = ""
        self._identity = _identity(state_dir, self.path) if marked else None
        self._replaced = ""

    def _connect(self) -> sqlite3.Connection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=FULL")  # a commit is on disk before it is acknowledged
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
        """A connection inside the pool-wide write transaction; commits on success.

        DiskFull when the disk is full, StateReplaced once the state
        directory was replaced (nothing is written then).
        """
        self._check_identity()
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                generation = self._count(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as e:
            if DISK_FULL in str(e):
                raise DiskFull(self.state_dir)
            raise
        finally:
            self._release(conn)
        self._mark(generation)

    def _count(self, conn: sqlite3.Connection) -> int:
        """One more generation, in the transaction about to commit (0 where generations are not counted)."""
        if not self._counts or self.markers is None:
            return 0
        conn.execute("UPDATE generation SET n = n + 1")
        if not self._pool_uuid:
            found = conn.execute("SELECT uuid FROM pool").fetchone()
            self._pool_uuid = found[0] if found else ""
        return conn.execute("SELECT n FROM generation").fetchone()[0]

    def _mark(self, generation: int) -> None:
        if self.markers is not None and self._pool_uuid and generation:
            self.markers.write(durable.Marker(self._pool_uuid, generation))

    def _check_identity(self) -> None:
        """StateReplaced (logged once) when the state directory or the database is not the one opened."""
        if self._identity is None:
            return
        if not self._replaced:
            now = _identity(self.state_dir, self.path)
            if now != self._identity:
                self._replaced = "the state directory %s or its %s was removed or replaced while the shim ran" % (
                    self.state_dir, DB_NAME)
                LOG.critical("%s: every write is refused from now on", self._replaced)
        if self._replaced:
            raise StateReplaced(self._replaced)

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


def _identity(*paths: str) -> typing.Tuple[typing.Tuple[int, int], ...]:
    """(device, inode) of each path; (0, 0) for one that is gone."""
    found = []
    for path in paths:
        try:
            st = os.stat(path)
            found.append((st.st_dev, st.st_ino))
        except OSError:
            found.append((0, 0))
    return tuple(found)


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
