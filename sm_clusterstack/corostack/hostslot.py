"""A host's slot in the statefile: what its monitor publishes on every poll.

Each host writes only its own slot (block 1 + its position in xhad.conf's
HostIDs, sorted); the others read it to see that host alive on the
statefile (``seq`` moves), which partition its corosync shows it, whether
its heartbeat link is up, and whether it is joining, online, fencing,
fenced, or has left cleanly.  That is what arbitration decides on when no
side of a split has a corosync majority, and what tells survivors that a
lost host has fenced.
"""

import typing

from sm_clusterstack.corostack import statefile
from sm_clusterstack.stacks.xhadconf import XhadConfig, is_uuid

MAGIC = b"SMCS-HOSTSLOT"
STATES = ("joining", "online", "fencing", "fenced", "left")


class Slot(object):
    """One host's published state."""

    __slots__ = ("generation", "host", "seq", "state", "partition", "link_up")

    def __init__(self, generation: str, host: str, seq: int, state: str,
                 partition: typing.Iterable[str] = (), link_up: bool = True) -> None:
        self.generation = generation.lower()
        self.host = host.lower()
        self.seq = seq
        self.state = state
        self.partition = sorted(set(h.lower() for h in partition))
        self.link_up = link_up

    def to_dict(self) -> dict:
        """The JSON payload."""
        return {"version": statefile.VERSION, "generation": self.generation, "host": self.host,
                "seq": self.seq, "state": self.state, "partition": self.partition, "link_up": self.link_up}

    def __eq__(self, other):
        return isinstance(other, Slot) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return "Slot(%r)" % (self.to_dict(),)


def encode(slot: Slot) -> bytes:
    """The block for ``slot``."""
    return statefile.pack(MAGIC, slot.to_dict())


def decode(block: bytes) -> typing.Optional[Slot]:
    """The Slot in ``block``; None when blank; StatefileCorrupt when invalid."""
    obj = statefile.unpack(MAGIC, block)
    if obj is None:
        return None
    fields = [obj.get(k) for k in ("generation", "host", "seq", "state", "partition", "link_up")]
    gen, host, seq, state, partition, link_up = fields
    if not (is_uuid(gen) and is_uuid(host) and isinstance(seq, int) and state in STATES
            and isinstance(partition, list) and all(is_uuid(h) for h in partition)
            and isinstance(link_up, bool)):
        raise statefile.StatefileCorrupt("host slot: bad field")
    return Slot(gen, host, seq, state, partition, link_up)


def indexes(conf: XhadConfig) -> typing.Dict[str, int]:
    """Each configured HostID (lower case) -> its block in the statefile."""
    return {host: 1 + i for i, host in enumerate(sorted(h.host_id.lower() for h in conf.hosts))}


def write(fd: int, conf: XhadConfig, slot: Slot) -> None:
    """Write ``slot`` into its host's block (``fd`` from statefile.opened(write=True))."""
    statefile.write_block(fd, indexes(conf)[slot.host], encode(slot))


def read_all(fd: int, conf: XhadConfig) -> typing.Dict[str, typing.Optional[Slot]]:
    """Every configured host's slot of this generation; None for a blank, corrupt or foreign one."""
    found = {}  # type: typing.Dict[str, typing.Optional[Slot]]
    generation = conf.generation_uuid.lower()
    for host, index in indexes(conf).items():
        try:
            slot = decode(statefile.read_block(fd, index))
        except statefile.StatefileCorrupt:
            slot = None  # a torn write: read again on the next poll
        found[host] = slot if slot is not None and slot.host == host and slot.generation == generation else None
    return found
