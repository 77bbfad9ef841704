"""Who survives a split, when a lost host may be dropped, and when a starting host is Online.

Pure functions over what a monitor sees: its corosync partition, the
hosts counted (configured and not excluded), and the other hosts' slots
in the statefile with whether each is fresh (its ``seq`` moved within
Timing.slot_stale).  They reproduce xhad's survival rules (``sm.c``
``test_Survival_Rule``, ``am_I_in_largest_partition``):

1. a partition holding a strict majority of the counted hosts survives;
2. otherwise the statefile decides: each host publishes its partition in
   its slot; once every fresh host's report agrees (hosts in my partition
   report my partition, the others report partitions disjoint from it),
   the best partition survives and every other one fences.  Best = most
   counted hosts, then most hosts whose heartbeat link is up (a host whose
   own network went down is the one that is cut off), then the partition
   holding the recorded master (the master lock), then the one with the
   lowest HostID.  Hosts whose slot is not fresh (dead, or cut from the
   statefile) compete with nothing; a host without statefile access cannot
   win without a majority.
"""

import typing

from sm_clusterstack.corostack.hostslot import Slot

WIN, LOSE, WAIT = "win", "lose", "wait"
GONE_STATES = ("fenced", "left")


class Peer(object):
    """Another host as this monitor sees it in the statefile."""

    __slots__ = ("slot", "fresh", "since_change")

    def __init__(self, slot: typing.Optional[Slot], fresh: bool, since_change: float = 0.0) -> None:
        self.slot = slot
        self.fresh = fresh
        self.since_change = since_change


def has_majority(partition: typing.AbstractSet[str], counted: typing.AbstractSet[str]) -> bool:
    """True when ``partition`` holds a strict majority of the counted hosts."""
    return bool(counted) and 2 * len(partition & counted) > len(counted)


def _competitors(me: str, partition: typing.FrozenSet[str], peers: typing.Mapping[str, Peer]):
    """The other partitions reported by fresh hosts, or None while the reports disagree."""
    others = set()  # type: typing.Set[typing.FrozenSet[str]]
    for host, peer in peers.items():
        slot = peer.slot
        if host == me or not peer.fresh or slot is None or slot.state in GONE_STATES + ("fencing",):
            continue
        reported = frozenset(slot.partition)
        if host in partition:
            if reported != partition:
                return None
        elif host not in reported or reported & partition:
            return None
        else:
            others.add(reported)
    if any(a != b and a & b for a in others for b in others):
        return None
    return others


def rank(partition: typing.FrozenSet[str], counted: typing.AbstractSet[str],
         links_up: typing.AbstractSet[str], master: str) -> tuple:
    """The sort key of a partition: the best sorts first."""
    members = partition & counted
    return (-len(members), -len(members & links_up), master not in partition, min(partition))


def decide(me: str, partition: typing.AbstractSet[str], counted: typing.AbstractSet[str],
           peers: typing.Optional[typing.Mapping[str, Peer]], master: str, my_link_up: bool) -> str:
    """WIN, LOSE or WAIT (reports still disagree) for this host's partition.

    ``peers`` is None when this host cannot read the statefile.
    """
    mine = frozenset(partition)
    if has_majority(mine, counted):
        return WIN
    if peers is None or me not in counted:
        return LOSE
    others = _competitors(me, mine, peers)
    if others is None:
        return WAIT
    links_up = set(h for h, p in peers.items() if p.fresh and p.slot is not None and p.slot.link_up)
    links_up.discard(me)
    if my_link_up:
        links_up.add(me)
    best = min([mine] + sorted(others, key=sorted), key=lambda p: rank(p, counted, links_up, master))
    return WIN if best == mine else LOSE


def still_counted_in(me: str, partition: typing.AbstractSet[str], peers: typing.Mapping[str, Peer]) -> bool:
    """True when a host outside this host's partition still reports this host in its own, freshly.

    corosync's membership is in flux (a ring re-forming): that host has not
    lost this one, so it cannot drop it, and this host need not fence yet.
    """
    return any(host not in partition and peer.fresh and peer.slot is not None and peer.slot.state == "online"
               and me in peer.slot.partition for host, peer in peers.items())


def may_drop(peer: typing.Optional[Peer], lost_for: float, drop_after: float, me: str = "") -> bool:
    """True once a host corosync lost ``lost_for`` seconds ago is surely fenced.

    Its slot says it fenced or left (however long ago: a host that runs
    again rewrites its slot before it may join); or ``drop_after`` (Timing:
    its fence deadline, whichever of its monitor or its guard fences it)
    has passed.  A slot that stopped moving proves nothing sooner: the
    host's statefile I/O may be stalled while it runs.  Never while its
    fresh slot says it is online with this host (``me``) in its partition:
    its corosync still has this host, the membership is in flux, and it
    runs unfenced; nor while its fresh slot says it is fencing: it runs,
    its fence has not taken effect (a fence that fails, or is slower than
    its deadline, is never taken over; a kernel reboot stops the slot at
    once).
    """
    if peer is not None and peer.slot is not None and peer.slot.state in GONE_STATES:
        return True
    if peer is not None and peer.fresh and peer.slot is not None and (
            peer.slot.state == "fencing" or (peer.slot.state == "online" and me in peer.slot.partition)):
        return False
    return lost_for >= drop_after


def existing_liveset(me: str, peers: typing.Mapping[str, Peer]) -> typing.List[str]:
    """The hosts other than this one whose fresh slot says they are online."""
    return sorted(h for h, p in peers.items()
                  if h != me and p.fresh and p.slot is not None and p.slot.state == "online")


def start(me: str, partition: typing.AbstractSet[str], configured: typing.AbstractSet[str],
          excluded: typing.AbstractSet[str], pool_state: str, peers: typing.Mapping[str, Peer],
          may_form_subset: bool, my_link_up: bool, master: str) -> str:
    """"online", "wait" or "blocked" (18) for a host starting its daemon (xhad's start rules).

    An existing liveset (another host online) is joined once corosync puts
    this host in its partition, excluded or not.  Without one: in pool
    state init every configured host must be in the partition; at boot
    every counted host, or, once ``may_form_subset`` (the join timeout is
    near), a partition that wins arbitration.  An excluded host may not
    form a liveset while any host is not excluded.
    """
    online = existing_liveset(me, peers)
    if online:
        return "online" if set(online) & set(partition) else "wait"
    counted = set(configured) - set(excluded)
    if me in excluded and counted:
        return "blocked"
    if pool_state == "init":
        return "online" if set(configured) <= set(partition) else "wait"
    counted = counted or set(configured)
    if counted <= set(partition):
        return "online"
    if may_form_subset and decide(me, partition, counted, peers, master, my_link_up) == WIN:
        return "online"
    return "wait"
