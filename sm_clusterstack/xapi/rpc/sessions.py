"""Sessions: created at login, valid while used, evicted by last use, as xapi's.

xapi (``ocaml/xapi/db_gc_util.ml`` ``timeout_sessions``) groups root's
sessions by originator, keeps at most 500 per group
(``Xapi_globs.max_sessions_per_originator``) and destroys the least
recently *used* beyond that, and any session unused for 24 hours
(``inactive_session_timeout``).  A login that fails waits 5 s before it
answers (``xapi_session.ml`` ``thread_delay_and_raise_error``).

The shim records each use in memory (no write per call) and writes the
times to the store in the transaction that evicts, so eviction follows
the last use exactly; internal sessions (one per driver run) are never
evicted, they end with their run.

On a full disk (``store.DiskFull``) a login still succeeds: its session is
kept in memory only (it ends with the shim, as on xapi's restart), so that
an operator can log in and read while the disk is full.
"""

import logging
import threading
import time
import typing

from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.db import records

MAX_PER_ORIGINATOR = 500
INACTIVE_TIMEOUT = 24 * 3600.0  # seconds unused after which a session is gone
FAILED_LOGIN_DELAY = 5.0  # seconds a failed login waits before it answers
LOG = logging.getLogger("sm_clusterstack.xapi")


class Sessions(object):
    """The sessions of one store, and when each was last used."""

    def __init__(self, store: store_mod.Store) -> None:
        self.store = store
        self._used = {}  # ref -> time of last use not yet written
        self._lock = threading.Lock()
        self._memory = {}  # type: typing.Dict[str, typing.Dict[str, typing.Any]]  # made on a full disk

    def touch(self, ref: str) -> None:
        """Record a use of ``ref`` now."""
        with self._lock:
            self._used[ref] = time.time()

    def is_live(self, ref: typing.Any) -> bool:
        """True when ``ref`` is a session used within INACTIVE_TIMEOUT (the use is recorded)."""
        if not isinstance(ref, str):
            return False
        with self.store.read() as conn:
            row = store_mod.row(conn, "session", ref)
        row = row if row is not None else self._memory.get(ref)
        if row is None:
            return False
        with self._lock:
            last = max(row["last_active"], self._used.get(ref, 0.0))
        if not row["internal"] and last < time.time() - INACTIVE_TIMEOUT:
            return False
        self.touch(ref)
        return True

    def create(self, user: str, originator: str = "", internal: bool = False) -> str:
        """A new session of ``user``; the least recently used of its originator beyond the limit end."""
        ref = store_mod.new_ref()
        now = time.time()
        try:
            with self.store.write() as conn:
                self._write_uses(conn)
                store_mod.insert(conn, "session", {
                    "ref": ref, "uuid": store_mod.new_uuid(), "this_user": user, "originator": originator,
                    "this_host": records.master(conn), "last_active": now, "internal": internal})
                records.expire_sessions(conn, now - INACTIVE_TIMEOUT, originator, MAX_PER_ORIGINATOR)
        except store_mod.DiskFull:
            if internal:
                raise
            with self.store.read() as conn:
                master = records.master(conn)
            LOG.warning("the disk is full: the session of %s (%s) is kept in memory only", user, originator)
            with self._lock:
                self._memory[ref] = {"ref": ref, "this_user": user, "originator": originator, "this_host": master,
                                     "last_active": now, "internal": False}
        return ref

    def in_memory(self, ref: str) -> typing.Optional[typing.Dict[str, typing.Any]]:
        """The session ``ref`` made on a full disk (not in the store), or None."""
        with self._lock:
            return self._memory.get(ref)

    def end(self, ref: str) -> None:
        """Forget session ``ref``."""
        with self._lock:
            self._used.pop(ref, None)
            if self._memory.pop(ref, None) is not None:
                return
        with self.store.write() as conn:
            store_mod.delete(conn, "session", ref)

    def _write_uses(self, conn) -> None:
        with self._lock:
            used, self._used = self._used, {}
        conn.executemany("UPDATE session SET last_active = MAX(last_active, ?) WHERE ref = ?",
                         [(when, ref) for ref, when in used.items()])
