"""event.*: xapi's events over the store's change record (``ocaml/xapi/xapi_event.ml``).

Every write of the store is recorded by the schema's triggers (tasks, which
live in memory, by ``methods.task``), whatever path made it: a method, the
HA monitor, recovery at start-up, another process.  A change's generation
is its row id, so the order of generations is the order of commits.

- ``event.from(classes, token, timeout)``: the objects of ``classes``
  changed after ``token``, one event each with its record now
  (``db.changes.collect_events``), and the new token; it waits for a
  change up to ``timeout`` seconds (a negative, NaN or too large one is 24
  hours, as ``Clock.Timer.s_to_span`` gives None), looks 50 ms after the
  call and again shortly after each wake-up (``Throttle.Batching``,
  ``event_from_delay``; 0 ms first for tasks only), and never answers
  empty before the timeout.  A bogus token is
  EVENT_FROM_TOKEN_PARSE_FAILURE; an unknown class just never matches.
- ``event.register``/``unregister``/``next``: the deprecated interface, one
  subscription per session kept in memory (as xapi's ``Next``): ``next``
  blocks until a change it subscribed to, and gives every change, each
  once, in order; before ``register`` it is SESSION_NOT_REGISTERED; when
  changes it had not read were pruned, EVENTS_LOST.
- ``event.inject(class, ref)``: records a change of the object; the token
  just before it (so event.from from it sees the object).
  ``event.get_current_id``: the last generation.

Across a restart: xapi writes its database's generation count and each
row's creation and modification generations to disk (``db_xml.ml``
``__ctime``/``__mtime``, ``generation_count``), so a token taken before a
restart still selects exactly the later changes; its deletions are kept in
memory only (at most 512 per table, ``Table.remove``), so those made before
a restart are lost.  The shim's record is in the same store and the same
transaction as the change, so a token stays valid across a restart and no
change is replayed or lost, deletions included; it keeps the last
``schema.KEEP_EVENTS`` changes: a token older than that gets every object
again (deletions among the pruned changes are lost, as xapi's beyond 512).
A waiting call ends SESSION_INVALID when its session ends.
"""

import hashlib
import math
import threading
import time
import typing
import weakref

from sm_clusterstack import errors
from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.db import changes as changes_mod
from sm_clusterstack.xapi.db import model, records
from sm_clusterstack.xapi.methods import task as task_mod
from sm_clusterstack.xapi.rpc.registry import method

DEFAULT_TIMEOUT = 24 * 3600.0  # seconds: xapi's Option.value ~default:Mtime.Span.(24 * hour)
MAX_TIMEOUT_NS = float(1 << 64)  # Mtime.Span.of_float_ns gives None from 2^64 ns on
FROM_DELAY = 0.05  # seconds: Xapi_globs.event_from_delay (before and between looks)
POLL = 0.5  # seconds a waiter sleeps at most before looking again (a write of another process, a session's end)
TASK = "task"
CLASSES = tuple(sorted(model.STORED)) + (TASK,)
_NEXT = weakref.WeakKeyDictionary()  # ctx -> {session ref: Registration}
_NEXT_LOCK = threading.Lock()


def duration_of(timeout: float) -> float:
    """How long event.from waits: ``timeout``, or 24 hours where xapi's span conversion gives None."""
    if math.isnan(timeout) or timeout < 0 or timeout * 1e9 >= MAX_TIMEOUT_NS:
        return DEFAULT_TIMEOUT
    return float(timeout)


class Batching(object):
    """xapi's ``Throttle.Batching``: a delay before the first look, then doubling ones up to ``between``."""

    def __init__(self, before: float, between: float) -> None:
        self.before = before
        self.between = between
        self.delay = between / 16

    def first(self) -> None:
        if self.before > 0:
            time.sleep(self.before)

    def next(self) -> None:
        self.delay = min(self.between, 2 * self.delay)
        time.sleep(self.delay)


# -- event.from ---------------------------------------------------------------------------------------------------

@method("event.from", "classes:set", "token:str", "timeout:float")
def event_from(ctx, session, classes, token, timeout) -> dict:
    """The events of ``classes`` after ``token``, waiting up to ``timeout`` seconds for one."""
    deadline = time.monotonic() + duration_of(timeout)
    subs = changes_mod.Subscription(classes)
    since, _ = changes_mod.parse_token(token)
    batching = Batching(0.0 if subs.is_task_only() else FROM_DELAY, FROM_DELAY)
    batching.first()
    while True:
        mark = ctx.store.commits()
        events, last, counts = read_events(ctx, subs, since)
        if events or time.monotonic() >= deadline:
            return {"events": events, "valid_ref_counts": counts, "token": changes_mod.format_token(last)}
        since = last
        wait_for_change(ctx, session, mark, deadline)
        batching.next()


def read_events(ctx, subs: changes_mod.Subscription, since: int,
                ) -> typing.Tuple[typing.List[dict], int, typing.Dict[str, int]]:
    """(events with their records, the new generation, valid_ref_counts), from one snapshot of the store."""
    with ctx.store.read() as conn:
        found = records.changes_since(conn, since, _classes_of(subs))
        entries, last = changes_mod.collect_events(found, since, subs)
        oldest = records.oldest_change(conn)
        if oldest is not None and oldest > since + 1:  # changes after the token were pruned: every object again
            entries = _every_object(ctx, conn, subs, since, oldest, entries)
            last = max(last, oldest - 1)
        events = [ev for ev in (_event(e, _snapshot(ctx, conn, e)) for e in entries) if ev is not None]
        counts = records.ref_counts(conn, [model.table_of(c) for c in sorted(model.STORED)])
    counts = {cls.lower(): counts[model.table_of(cls)] for cls in model.STORED}
    counts[TASK] = len(task_mod.registry(ctx).all())
    return events, last, counts


def _classes_of(subs: changes_mod.Subscription) -> typing.Optional[typing.List[str]]:
    """The lower-case classes to read from the record (None: all of them)."""
    return None if subs.all else sorted({c.lower() for c in CLASSES if subs.table_matches(c)})


def _every_object(ctx, conn, subs, since, oldest, entries) -> typing.List[changes_mod.Entry]:
    """``entries`` and every other live object ``subs`` selects, as xapi would see them all changed."""
    known = {(e.cls, e.ref) for e in entries}
    op = "add" if since <= 0 else "mod"
    extra = [changes_mod.Entry(op, cls, ref, oldest - 1) for cls, ref in _live_objects(ctx, conn)
             if (cls, ref) not in known and subs.matches(cls, ref)]
    if since <= 0:
        entries = [changes_mod.Entry("add", e.cls, e.ref, e.id) if e.op == "mod" else e for e in entries]
    return sorted(entries + extra, key=lambda e: e.id)


def _live_objects(ctx, conn) -> typing.List[typing.Tuple[str, str]]:
    found = [(cls, ref) for cls in sorted(model.STORED) for ref in records.refs_of(conn, model.table_of(cls))]
    return found + [(TASK, t.ref) for t in task_mod.registry(ctx).all()]


def _snapshot(ctx, conn, entry: changes_mod.Entry) -> typing.Optional[dict]:
    """The record of ``entry``'s object now (None for a deletion, or an object already gone)."""
    if entry.op == "del":
        return None
    if entry.cls == TASK:
        return task_mod.registry(ctx).snapshot(entry.ref)
    try:
        return model.record(conn, entry.cls, entry.ref)
    except XenAPIError:
        return None


def _event(entry, snapshot: typing.Optional[dict], timestamp: str = "0.0", keep_gone: bool = False,
           ) -> typing.Optional[dict]:
    """The event record xapi sends (``Event_types.event``); None when the object is gone since, unless
    ``keep_gone`` (event.from drops it, CA-91931; event.next gives it without its record)."""
    if snapshot is None and entry.op != "del" and not keep_gone:
        return None
    event = {"id": str(entry.id), "timestamp": timestamp, "class": entry.cls.lower(), "operation": entry.op,
             "ref": entry.ref}
    if snapshot is not None:
        event["snapshot"] = snapshot
    return event


def wait_for_change(ctx, session: str, mark: int, deadline: float) -> None:
    """Wait for a commit after ``mark`` (at most POLL, or until ``deadline``); SESSION_INVALID once it ended."""
    ctx.store.wait_for_commit(mark, min(POLL, deadline - time.monotonic()))
    if not ctx.sessions.is_live(session):
        raise XenAPIError(errors.SESSION_INVALID, session)


# -- event.register, unregister, next ------------------------------------------------------------------------------

class Registration(object):
    """A session's event.next subscription: its classes and the last generation it was given."""

    def __init__(self, last: int) -> None:
        self.lock = threading.Lock()
        self.names = []  # type: typing.List[str]
        self.last = last


def _registrations(ctx) -> typing.Dict[str, Registration]:
    with _NEXT_LOCK:
        return _NEXT.setdefault(ctx, {})


def _registration(ctx, session: str, create: bool = True) -> Registration:
    found = _registrations(ctx)
    with _NEXT_LOCK:
        if session not in found:
            if not create:
                raise XenAPIError(errors.SESSION_NOT_REGISTERED, trackid(session))
            with ctx.store.read() as conn:
                found[session] = Registration(records.current_generation(conn))
        return found[session]


def trackid(session: str) -> str:
    """How xapi names a session in errors (``Context.trackid_of_session``: the MD5 of its ref)."""
    return "trackid=" + hashlib.md5(session.encode("utf-8")).hexdigest()


def _same(name: str) -> typing.Tuple[str, ...]:
    """A subscription's identity (``Subscription.of_string``): classes compared in lower case."""
    if name == changes_mod.ALL:
        return (name,)
    cls, _, ref = name.partition("/")
    return (cls.lower(), ref) if "/" in name else (cls.lower(),)


@method("event.register", "classes:set")
def register(ctx, session, classes) -> str:
    """Add ``classes`` to the session's event.next subscription (made now if it has none)."""
    registration = _registration(ctx, session)
    with registration.lock:
        registration.names = list(classes) + registration.names
    return ""


@method("event.unregister", "classes:set")
def unregister(ctx, session, classes) -> str:
    """Remove ``classes`` from the session's event.next subscription."""
    gone = {_same(c) for c in classes}
    registration = _registration(ctx, session)
    with registration.lock:
        registration.names = [n for n in registration.names if _same(n) not in gone]
    return ""


@method("event.next")
def event_next(ctx, session) -> typing.List[dict]:
    """The next changes the session subscribed to, every one in order; blocks until there is one."""
    registration = _registration(ctx, session, create=False)
    while True:
        mark = ctx.store.commits()
        with ctx.store.read() as conn, registration.lock:
            found = _take(conn, registration)
            subs = changes_mod.Subscription(registration.names)
            relevant = [c for c in found if subs.matches(c.cls, c.ref)]
            events = [_event(_as_entry(c), _snapshot(ctx, conn, _as_entry(c)), "%.0f." % c.ts, keep_gone=True)
                      for c in relevant]
        if events:
            return events
        wait_for_change(ctx, session, mark, time.monotonic() + POLL)


def _take(conn, registration: Registration) -> typing.List[records.Change]:
    """The changes after the registration's last, which becomes the newest; EVENTS_LOST if some were pruned."""
    oldest = records.oldest_change(conn)
    if oldest is not None and oldest > registration.last + 1:
        registration.last = records.current_generation(conn)
        raise XenAPIError(errors.EVENTS_LOST)
    found = records.changes_since(conn, registration.last)
    registration.last = found[-1].id if found else registration.last
    return found


def _as_entry(change: records.Change) -> changes_mod.Entry:
    return changes_mod.Entry(change.op, change.cls, change.ref, change.id)


# -- event.inject, get_current_id ----------------------------------------------------------------------------------

@method("event.get_current_id")
def get_current_id(ctx, session) -> str:
    """The generation of the last change (an int64)."""
    with ctx.store.read() as conn:
        return model.Int64(records.current_generation(conn))


@method("event.inject", "class:str", "ref:str")
def inject(ctx, session, cls, ref) -> str:
    """Record a change of object ``ref`` of ``cls``; the token just before it. HANDLE_INVALID [cls, ref]."""
    if cls == TASK:
        task_mod.registry(ctx).get(ref)
    elif cls not in model.STORED:
        raise XenAPIError(errors.HANDLE_INVALID, cls, ref)
    with ctx.store.write() as conn:
        if cls != TASK:
            model.check_ref(conn, cls, ref)
        generation = records.note_change(conn, cls, ref, "mod")
    return changes_mod.format_token(generation - 1)
