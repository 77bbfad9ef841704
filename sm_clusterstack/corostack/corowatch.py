"""corosync watched from a thread of its own: membership as events, proof that it answers, reconnection.

``Watcher`` keeps one quorum connection tracking changes and one on
corosync's stats map (``corolib``).  Its thread selects on the quorum
notification fd: a membership change is dispatched as it comes.  Every
``probe_every`` it asks whether the partition is quorate (one round trip:
``answered`` moves); every ``resync_every`` probes, or at once when that
answer differs from the last membership's, it asks for the current
membership again (a notification that was missed is delivered again); and
every ``stats_every`` probes (every probe while a member's link is seen
down or unknown) it reads each node's knet link; a node's link read down
before the membership that admits it is forgotten when it comes.  A dead
connection (CS_ERR_LIBRARY, CS_ERR_BAD_HANDLE, a hung-up fd: corosync
stopped or restarted) is closed
and made again, after ``probe_every`` and then twice as long each time up
to ``backoff_max``.  While it is down ``answered`` does not move, nor while
a stopped corosync holds the thread in a call (the libraries wait without
a timeout): the monitor counts both as corosync's silence on its budget
(``timing``).  The monitor reads ``state`` (a ``State``, replaced whole by
the thread) and ``notes()``, and never waits for corosync.
"""

import collections
import select
import threading
import time
import typing

from sm_clusterstack.corostack import corolib

Membership = collections.namedtuple("Membership", ["quorate", "ring_seq", "members"])
Membership.__doc__ = "One membership as corosync delivered it: quorate, its ring's sequence, the node ids (sorted)."

State = collections.namedtuple("State", [
    "connected",  # the quorum connection is up
    "answered",  # CLOCK_MONOTONIC of corosync's last answer (a probe, an event); the start while none
    "membership",  # the last Membership delivered, None before the first (and after a lost connection)
    "nodes",  # corosync's nodelist: {node id: corolib.Node}, read on each connection
    "links",  # {node id: (a knet link connected, its latency in us)}
    "links_at",  # CLOCK_MONOTONIC of the last links read, None before the first
    "expected",  # (ticket, "" or why votequorum refused) of the last expected-votes request done, or None
])
State.__doc__ = "What the watcher last learnt of corosync."
HANGUP = select.POLLHUP | select.POLLERR | select.POLLNVAL


class Watcher(object):
    """corosync's membership, kept by a thread; ``start``, read ``state``, ``stop``."""

    def __init__(self, probe_every: float, backoff_max: float, stats_every: int = 4, resync_every: int = 4,
                 clock: typing.Callable[[], float] = time.monotonic) -> None:
        self.probe_every, self.backoff_max, self.clock = probe_every, backoff_max, clock
        self.stats_every, self.resync_every = stats_every, resync_every
        self.state = State(False, clock(), None, {}, {}, None, None)
        self._notes = collections.deque(maxlen=64)  # type: typing.Deque[str]
        self._want_votes = None  # type: typing.Optional[typing.Tuple[int, int]]
        self._tickets = 0
        self.connections = 0  # made so far
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="corosync-watcher", daemon=True)

    def start(self) -> "Watcher":
        """Start the thread."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Ask the thread to end (it does within ``probe_every``, unless a call to a stopped corosync holds it)."""
        self._stopping = True
        self._thread.join(timeout)

    def notes(self) -> typing.List[str]:
        """What happened since the last call (connections made and lost), for the log."""
        found = []
        while self._notes:
            found.append(self._notes.popleft())
        return found

    def request_expected_votes(self, votes: int) -> int:
        """Have the thread set votequorum's expected votes; a ticket ``state.expected`` will name."""
        self._tickets += 1
        self._want_votes = (self._tickets, votes)
        return self._tickets

    def _update(self, **changes: typing.Any) -> None:
        self.state = self.state._replace(**changes)

    def _run(self) -> None:
        backoff = self.probe_every
        while not self._stopping:
            quorum = corolib.Quorum(self._delivered)
            stats = None
            try:
                fd = quorum.connect()
                stats = corolib.Cmap(corolib.CMAP_MAP_STATS)
                self._connected()
                backoff = self.probe_every
                self._serve(quorum, stats, fd)
            except (corolib.CorosyncError, corolib.LibraryMissing, OSError) as e:
                self._lost(str(e))
            except Exception as e:  # the thread must not end silently: it would look like corosync's silence
                self._lost("internal error: %s: %s" % (type(e).__name__, e))
            finally:
                quorum.close()
                if stats is not None:
                    stats.close()
            self._sleep(backoff)
            backoff = min(self.backoff_max, 2 * backoff)

    def _connected(self) -> None:
        config = corolib.Cmap(corolib.CMAP_MAP_DEFAULT)
        try:
            nodes = corolib.nodelist(config)
        finally:
            config.close()
        self._update(connected=True, nodes=nodes, answered=self.clock())
        self.connections += 1
        self._notes.append("connected to corosync (connection %d): nodes %s" % (self.connections, ", ".join(
            "%d %s %s" % (n.nodeid, n.name, n.address) for n in sorted(nodes.values()))))

    def _lost(self, why: str) -> None:
        if self.state.connected:
            self._notes.append("the connection to corosync is lost: %s" % why)
        self._update(connected=False, membership=None)

    def _delivered(self, quorate: bool, ring_seq: int, members: typing.List[int]) -> None:
        """A membership: a joining node's link read down before it joined is unknown now, not down.

        Its link is read again at the next probe (an unknown link counts as
        down there); until then the monitor must not warn of a heartbeat
        failing for a host corosync has just admitted.
        """
        now = self.clock()
        before = set(self.state.membership.members) if self.state.membership else set()
        links = {n: link for n, link in self.state.links.items() if link[0] or n in before or n not in members}
        changes = {"links": links, "links_at": now} if links != self.state.links else {}
        self._update(membership=Membership(quorate, ring_seq, members), answered=now, **changes)

    def _serve(self, quorum: corolib.Quorum, stats: corolib.Cmap, fd: int) -> None:
        poller = select.poll()
        poller.register(fd, select.POLLIN | HANGUP)
        probes = 0
        due = self.clock()
        while not self._stopping:
            for _fd, events in poller.poll(max(0.0, due - self.clock()) * 1000):
                if events & HANGUP and not events & select.POLLIN:
                    raise corolib.CorosyncError("poll", corolib.CS_ERR_LIBRARY)
                quorum.dispatch()
            if self.clock() < due:
                continue
            quorate = quorum.quorate()
            known = self.state.membership
            if known is None or known.quorate != quorate or probes % self.resync_every == 0:
                quorum.resync()
            self._update(answered=self.clock())
            members = self.state.membership.members if self.state.membership else []
            down = any(not self.state.links.get(n, (False, 0))[0] for n in members)
            if probes % self.stats_every == 0 or down:
                self._update(links=corolib.knet_links(stats, sorted(self.state.nodes)), links_at=self.clock())
            probes += 1
            self._set_votes()
            due = self.clock() + self.probe_every

    def _set_votes(self) -> None:
        wanted, self._want_votes = self._want_votes, None
        if wanted is None:
            return
        try:
            corolib.set_expected_votes(wanted[1])
            self._update(expected=(wanted[0], ""))
        except corolib.CorosyncError as e:
            self._update(expected=(wanted[0], str(e)))
            if e.dead:
                raise

    def _sleep(self, seconds: float) -> None:
        end = self.clock() + seconds
        while not self._stopping and self.clock() < end:
            time.sleep(min(self.probe_every, max(0.0, end - self.clock())))


_asking = []  # type: typing.List[threading.Thread]


def current_membership(timeout: float) -> typing.Optional[Membership]:
    """corosync's membership now, from a connection of its own; None when it does not answer within ``timeout``.

    The question runs in a thread (a stopped corosync would hold it): while
    one is still unanswered, no other is asked and the answer is None.
    """
    if _asking and _asking[0].is_alive():
        return None
    found = []  # type: typing.List[Membership]
    thread = threading.Thread(target=_ask, args=(found, timeout), name="corosync-query", daemon=True)
    _asking[:] = [thread]
    thread.start()
    thread.join(timeout)
    return found[0] if found else None


def _ask(found: typing.List[Membership], timeout: float) -> None:
    quorum = corolib.Quorum(lambda quorate, seq, members: found.append(Membership(quorate, seq, members)))
    try:
        poller = select.poll()
        poller.register(quorum.connect(), select.POLLIN)
        if poller.poll(timeout * 1000):
            quorum.dispatch()
    except (corolib.CorosyncError, corolib.LibraryMissing, OSError):
        pass
    finally:
        quorum.close()
