"""What a monitor sees on one poll: corosync's partition and the statefile.

``Observer.corosync`` takes this host's partition (and each knet link's
latency) from what corosync last delivered to the watcher's thread
(``corowatch``, on corosync's own libraries); ``Observer.statefile`` hands this
host's slot to the statefile I/O thread (``slotio``) and takes what that
last read: the pool record and every other slot; it keeps for each host
when its slot last changed (a host is fresh on the statefile while its
``seq`` moves).  Both measure their own latency for the liveset.
"""

import time
import typing

from sm_clusterstack.corostack import arbitration, corowatch, hostslot, slotio
from sm_clusterstack.corostack import conf as coroconf
from sm_clusterstack.corostack.timing import Timing
from sm_clusterstack.stacks.xhadconf import XhadConfig


class Latency(object):
    """The last, lowest and highest of a latency in ms."""

    def __init__(self) -> None:
        self.last, self.low, self.high = 0, None, 0  # type: int, typing.Optional[int], int

    def add(self, ms: float) -> None:
        """Record one measurement."""
        self.last = int(round(ms))
        self.low = self.last if self.low is None else min(self.low, self.last)
        self.high = max(self.high, self.last)

    def triple(self) -> typing.List[int]:
        """[last, min, max]."""
        return [self.last, self.low or 0, self.high]


class Seen(object):
    """The statefile as read on this poll."""

    def __init__(self) -> None:
        self.access = False
        self.corrupted = False
        self.error = ""
        self.pool = None  # type: typing.Optional[statefile.PoolState]
        self.peers = {}  # type: typing.Dict[str, arbitration.Peer]
        self.read_at = None  # type: typing.Optional[float]  # when the round that read this began


class Observer(object):
    """One host's view of corosync and the statefile, poll after poll."""

    def __init__(self, conf: XhadConfig, timing: Timing, clock: typing.Callable[[], float] = time.monotonic,
                 watcher: typing.Any = None, io: typing.Any = None) -> None:
        self.conf = conf
        self.timing = timing
        self.clock = clock
        self.me = conf.local_host_id.lower()
        self.hosts_by_node = {node: host for host, node in coroconf.node_ids(conf).items()}
        self.started = clock()
        self.changes = {}  # type: typing.Dict[str, typing.Tuple[int, float]]
        self.seq = 0
        self.heartbeat = Latency()
        self.statefile_latency = Latency()
        self.links = {}  # type: typing.Dict[str, bool]
        self.links_at = None  # type: typing.Optional[float]
        self.votes_asked = None  # type: typing.Optional[typing.Tuple[int, int]]
        self.watcher = watcher if watcher is not None else corowatch.Watcher(timing.poll, timing.reconnect, clock=clock)
        self.quorate = False
        self.last_answer = clock()
        self.io = io if io is not None else slotio.SlotIO(conf, clock)
        self.round = None  # type: typing.Optional[slotio.Round]

    def start(self) -> None:
        """Start watching corosync (the watcher's thread)."""
        self.watcher.start()

    def corosync(self) -> typing.Optional[typing.Set[str]]:
        """This host's partition as HostIDs, as corosync last delivered it; None when it has not answered lately.

        Lately: within a step (Timing.step) of now.  Never waits for corosync.
        """
        found = self.watcher.state
        self.last_answer = max(self.last_answer, found.answered)
        if not found.connected or found.membership is None or self.clock() - found.answered > self.timing.step:
            return None
        self.quorate = found.membership.quorate
        partition = set(self.hosts_by_node[n] for n in found.membership.members if n in self.hosts_by_node)
        if found.links_at is not None and found.links_at != self.links_at:
            self.links_at = found.links_at
            self._note_links(found.links, partition)
        return partition | {self.me}

    def _note_links(self, links: typing.Dict[int, typing.Tuple[bool, int]], partition: typing.Set[str]) -> None:
        self.links = {self.hosts_by_node[n]: up for n, (up, _us) in links.items() if n in self.hosts_by_node}
        peers = [us for n, (up, us) in links.items() if up and self.hosts_by_node.get(n) in partition - {self.me}]
        self.heartbeat.add(max(peers) / 1000.0 if peers else 0)

    def corosync_notes(self) -> typing.List[str]:
        """What happened to the connection to corosync since the last call, for the log."""
        return self.watcher.notes()

    def set_expected_votes(self, votes: int) -> typing.Optional[str]:
        """Ask for votequorum's expected votes to be ``votes``: None while pending, then "" (done) or why not."""
        done = self.watcher.state.expected
        if self.votes_asked is not None and done is not None and done[0] == self.votes_asked[0]:
            asked, self.votes_asked = self.votes_asked, None
            if asked[1] == votes:
                return done[1]
        if self.votes_asked is None or self.votes_asked[1] != votes:
            self.votes_asked = (self.watcher.request_expected_votes(votes), votes)
        return None

    def statefile(self, state: str, partition: typing.Iterable[str], link_up: bool) -> Seen:
        """Hand this host's slot to the I/O thread; what it last read.

        Never waits for the statefile: a round running longer than
        Timing.io_deadline means no access now (statefile_lost).
        """
        now = self.clock()
        self.seq += 1
        self.io.submit(hostslot.Slot(self.conf.generation_uuid, self.me, self.seq, state, partition, link_up))
        seen = Seen()
        found = self.io.latest()
        busy = self.io.busy_since()
        if busy is not None and now - busy > self.timing.io_deadline:
            self.statefile_latency.add((now - busy) * 1000)
            seen.error = "statefile I/O has not returned for %.1f s" % (now - busy)
            return seen
        if found is None:
            return seen
        if found is not self.round:
            self.round = found
            self.statefile_latency.add(found.seconds * 1000)
            self._note_changes(found)
        seen.access, seen.corrupted, seen.error = found.access, found.corrupted, found.error
        seen.pool, seen.read_at = found.pool, found.began
        if found.access:
            seen.peers = self._peers(found.slots)
        return seen

    def _note_changes(self, found: slotio.Round) -> None:
        for host, slot in found.slots.items():
            if slot is not None and slot.seq != self.changes.get(host, (None, 0.0))[0]:
                self.changes[host] = (slot.seq, found.finished)

    def _peers(self, slots: typing.Dict[str, typing.Optional[hostslot.Slot]]) -> typing.Dict[str, arbitration.Peer]:
        now = self.clock()
        peers = {}
        for host, slot in slots.items():
            age = now - self.changes.get(host, (None, self.started))[1]
            peers[host] = arbitration.Peer(slot, slot is not None and age < self.timing.slot_stale, age)
        return peers

    def since_update(self, host: str) -> float:
        """Seconds since ``host``'s slot last changed (since this monitor started if never)."""
        return self.clock() - self.changes.get(host, (None, self.started))[1]
