"""Nothing acknowledged is lost silently: the pool's marker, and the store checked before it is used (issue 22).

SQLite keeps a committed transaction whole, and with ``synchronous=FULL``
(``Store``) durable: the WAL is flushed before COMMIT returns.  What SQLite
cannot see is a store that lost its tail or was replaced: a WAL truncated
or overwritten after a crash reads as an older store, a deleted
``pool.db`` as no pool at all.  So every write transaction adds one to
the store's generation (table ``generation``), and once it is committed
the pool's uuid and that generation are written to the pool's marker, in
two files outside the database: ``STATE/pool.marker`` and
``.<state dir's name>.pool-marker`` beside the state directory (which
survives the state directory's removal).  The marker is written after
the commit, so it never runs ahead of the store: a store whose generation
is lower than the marker's, or that is missing where a marker is, lost
acknowledged writes.

``check`` runs at start, before anything is written: the markers read,
the store opened read-only (SQLite may rebuild the ``-shm`` index of a
WAL that is there), its
``PRAGMA quick_check``, its schema against its version (``schema.problems``),
its pool; ``Refused`` says in one line what is wrong and what to do:
``sm-clusterstack db restore`` from a backup, or ``serve --new-pool``,
which sets the old files aside (``set_aside``) and creates a new pool.
"""

import binascii
import collections
import logging
import os
import sqlite3
import threading
import time
import typing

from sm_clusterstack.xapi.db import schema

LOG = logging.getLogger("sm_clusterstack.xapi")
DB_NAME = "pool.db"
MARKER_NAME = "pool.marker"
MARKER_SIZE = 128  # bytes: one record, rewritten in place (within one disk sector)
MAGIC = "sm-clusterstack-pool-marker-1"
WHAT_TO_DO = ("restore it from a backup (sm-clusterstack db restore --state %s FILE), or start with --new-pool "
              "to set it aside and create a new pool")

Marker = collections.namedtuple("Marker", "pool_uuid generation")


class Refused(Exception):
    """The store cannot be used as it is; the message is one line: what is wrong, and what to do."""


def marker_paths(state_dir: str) -> typing.List[str]:
    """The pool's marker files: in the state directory, and beside it."""
    state_dir = os.path.abspath(state_dir)
    parent, name = os.path.split(state_dir.rstrip("/") or "/")
    return [os.path.join(state_dir, MARKER_NAME), os.path.join(parent, ".%s.pool-marker" % name)]


def encode(marker: Marker) -> bytes:
    """A marker's record: magic, pool uuid, generation and a CRC32 of them, padded to MARKER_SIZE."""
    body = "%s %s %d" % (MAGIC, marker.pool_uuid, marker.generation)
    line = "%s %08x\n" % (body, binascii.crc32(body.encode("ascii")) & 0xffffffff)
    return line.encode("ascii").ljust(MARKER_SIZE, b" ")


def decode(data: bytes) -> typing.Optional[Marker]:
    """The marker a record holds; None for a record torn or damaged (its CRC does not match)."""
    try:
        magic, pool_uuid, generation, crc = data.decode("ascii").split()
        body = "%s %s %s" % (magic, pool_uuid, generation)
        if magic != MAGIC or int(crc, 16) != binascii.crc32(body.encode("ascii")) & 0xffffffff:
            return None
        return Marker(pool_uuid, int(generation))
    except (UnicodeDecodeError, ValueError):
        return None


def read_marker(state_dir: str) -> typing.Optional[Marker]:
    """The newest sound marker of the pool of ``state_dir`` (None: no pool was ever marked there)."""
    found = []
    for path in marker_paths(state_dir):
        try:
            with open(path, "rb") as f:
                marker = decode(f.read(MARKER_SIZE))
        except OSError:
            continue
        if marker is not None:
            found.append(marker)
    return max(found, key=lambda m: m.generation) if found else None


def remove_markers(state_dir: str) -> None:
    for path in marker_paths(state_dir):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


class MarkerWriter(object):
    """Writes the pool's marker after each commit: in place, flushed, and never backwards."""

    def __init__(self, state_dir: str) -> None:
        self.paths = marker_paths(state_dir)
        self.lock = threading.Lock()
        self.written = -1
        self.failed = False

    def write(self, marker: Marker, force: bool = False) -> None:
        """Record ``marker`` in both files (unless a later generation is recorded already, or ``force``)."""
        with self.lock:
            if marker.generation <= self.written and not force:
                return
            data = encode(marker)
            try:
                for path in self.paths:
                    _write_in_place(path, data)
            except OSError as e:
                if not self.failed:
                    LOG.error("the pool's marker could not be written (%s): a store that loses writes "
                              "from now on may not be found out at the next start", e)
                self.failed = True
                return
            self.written, self.failed = marker.generation, False


def _write_in_place(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, data, 0)
        os.fdatasync(fd)
    finally:
        os.close(fd)


def inspect(path: str) -> Marker:
    """The pool and generation of the store at ``path``, read without writing; Refused if it is unusable."""
    where = os.path.dirname(os.path.abspath(path))
    # no WAL: immutable, so that SQLite makes no -wal or -shm file; a WAL there: read through it (its index,
    # the -shm, may be rebuilt)
    mode = "ro" if os.path.exists(path + "-wal") else "ro&immutable=1"
    try:
        conn = sqlite3.connect("file:%s?mode=%s" % (path, mode), uri=True, timeout=30)
    except sqlite3.Error as e:
        raise Refused("%s cannot be opened (%s): %s" % (path, e, WHAT_TO_DO % where))
    try:
        return _inspect(conn, path, where)
    except sqlite3.DatabaseError as e:
        raise Refused("%s is damaged (%s): %s" % (path, e, WHAT_TO_DO % where))
    finally:
        conn.close()


def _inspect(conn: sqlite3.Connection, path: str, where: str) -> Marker:
    found = [row[0] for row in conn.execute("PRAGMA quick_check") if row[0] != "ok"]
    if found:
        raise Refused("%s is damaged (quick_check: %s): %s" % (path, "; ".join(found[:3]), WHAT_TO_DO % where))
    wrong = schema.problems(conn)
    if wrong:
        raise Refused("%s does not have the schema of its version (%s): %s" % (
            path, "; ".join(wrong[:3]), WHAT_TO_DO % where))
    pools = [row[0] for row in conn.execute("SELECT uuid FROM pool")]
    if len(pools) != 1:
        raise Refused("%s holds %d pools, not one: %s" % (path, len(pools), WHAT_TO_DO % where))
    return Marker(pools[0], generation_of(conn))


def generation_of(conn: sqlite3.Connection) -> int:
    """The store's generation (0 for a store from before generations were counted)."""
    if schema.version(conn) < 5:
        return 0
    return conn.execute("SELECT n FROM generation").fetchone()[0]


def check(state_dir: str) -> typing.Optional[Marker]:
    """Before anything is written: the store of ``state_dir`` is sound and holds what its marker says.

    The store's pool and generation, or None where there is no pool (and
    none was ever marked: a new pool may be created).  Refused otherwise.
    """
    state_dir = os.path.abspath(state_dir)
    marker = read_marker(state_dir)
    path = os.path.join(state_dir, DB_NAME)
    if not os.path.exists(path) or _empty_new(path):
        if marker is not None:
            raise Refused("%s: the database of pool %s (generation %d) is missing: %s" % (
                state_dir, marker.pool_uuid, marker.generation, WHAT_TO_DO % state_dir))
        if os.path.exists(path + "-wal"):
            raise Refused("%s: a write-ahead log (%s-wal) without its database: %s" % (
                state_dir, DB_NAME, WHAT_TO_DO % state_dir))
        return None
    found = inspect(path)
    if marker is None:
        return found
    if found.pool_uuid != marker.pool_uuid:
        raise Refused("%s holds pool %s, but this state directory served pool %s: %s" % (
            path, found.pool_uuid, marker.pool_uuid, WHAT_TO_DO % state_dir))
    if found.generation < marker.generation:
        raise Refused("%s lost acknowledged writes: it is at generation %d, pool %s was at %d: %s" % (
            path, found.generation, marker.pool_uuid, marker.generation, WHAT_TO_DO % state_dir))
    return found


def _empty_new(path: str) -> bool:
    """True for a store file made but never written (an empty file, as a start cut short leaves it)."""
    return os.path.getsize(path) == 0 and not os.path.exists(path + "-wal")


def set_aside(state_dir: str) -> typing.List[str]:
    """Rename the store's files out of the way (``.set-aside-<time>``) and drop the markers: a new pool's start."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    moved = []
    for suffix in ("", "-wal", "-shm"):
        path = os.path.join(state_dir, DB_NAME + suffix)
        if os.path.exists(path):
            target = "%s.set-aside-%s" % (path, stamp)
            os.rename(path, target)
            moved.append(target)
    remove_markers(state_dir)
    return moved
