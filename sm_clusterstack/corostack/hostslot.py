"""A host's slot in the statefile: what its monitor publishes on every poll.

Each host writes only its own slot (block 1 + its position in xhad.conf's
HostIDs, sorted); the others read it to see that host alive on the
statefile (``seq`` moves), which partition its corosync shows it, whether
its heartbeat link is up, and whether it is joining, online, fencing,
fenced, or has left cleanly.  That is what arbitration decides on when no
side of a split has a corosync majority, and what tells survivors that a
lost host has fenced.
"""

import collections
import typing

from sm_clusterstack.corostack import blocklayout, statefile
from sm_clusterstack.stacks.xhadconf import XhadConfig, is_uuid

MAGIC = b"SMCS-HOSTSLOT"
STATES = ("joining", "online", "fencing", "fenced", "left")


Found = collections.namedtuple("Found", ["slot", "sequence"])
Found.__doc__ = "A slot read from its block, and that block's write sequence."


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
        return {"generation": self.generation, "host": self.host,
                "seq": self.seq, "state": self.state, "partition": self.partition, "link_up": self.link_up}

    def __eq__(self, other):
        return isinstance(other, Slot) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return "Slot(%r)" % (self.to_dict(),)


def encode(slot: Slot, index: int, sequence: int, block: int = statefile.BLOCK) -> bytes:
    """The block for ``slot`` at ``index``, that block's ``sequence``-th write."""
    return blocklayout.pack(MAGIC, index, sequence, slot.to_dict(), block)


def decode(data: bytes, index: int, block: int = statefile.BLOCK) -> typing.Optional[Found]:
    """The slot in block ``index`` and that block's write sequence; None when blank; StatefileCorrupt when invalid."""
    record = blocklayout.unpack(MAGIC, data, index, block)
    if record is None:
        return None
    obj = record.payload
    fields = [obj.get(k) for k in ("generation", "host", "seq", "state", "partition", "link_up")]
    gen, host, seq, state, partition, link_up = fields
    if not (is_uuid(gen) and is_uuid(host) and isinstance(seq, int) and state in STATES
            and isinstance(partition, list) and all(is_uuid(h) for h in partition)
            and isinstance(link_up, bool)):
        raise statefile.StatefileCorrupt("host slot: bad field")
    return Found(Slot(gen, host, seq, state, partition, link_up), record.sequence)


def indexes(conf: XhadConfig) -> typing.Dict[str, int]:
    """Each configured HostID (lower case) -> its block in the statefile."""
    return {host: 1 + i for i, host in enumerate(sorted(h.host_id.lower() for h in conf.hosts))}


def write(handle: statefile.Handle, conf: XhadConfig, slot: Slot, sequence: int = 0) -> int:
    """Write ``slot`` into its host's block as write number ``sequence``; the number used.

    ``sequence`` 0: one past what the block holds (read first; a writer
    keeps its own count after that, as xhad's ``sfvar.sequence``).
    """
    index = indexes(conf)[slot.host]
    if not sequence:
        sequence = blocklayout.sequence_of(MAGIC, handle.read(index), index, handle.block) + 1
    handle.write(index, encode(slot, index, sequence, handle.block))
    return sequence


def read_all(handle: statefile.Handle, conf: XhadConfig,
             damaged: typing.Optional[typing.Dict[str, str]] = None,
             sequences: typing.Optional[typing.Dict[str, int]] = None) -> typing.Dict[str, typing.Optional[Slot]]:
    """Every configured host's slot of this generation; None for a blank, damaged, stale or foreign one.

    Why a block was not trusted goes into ``damaged`` (host: reason).  With
    ``sequences`` (host: the block's last write sequence read, kept by the
    caller between rounds) a block whose sequence went back is stale.
    """
    damaged = {} if damaged is None else damaged
    sequences = {} if sequences is None else sequences
    generation = conf.generation_uuid.lower()
    found = {}  # type: typing.Dict[str, typing.Optional[Slot]]
    where = indexes(conf)
    blocks = handle.read_span(1, max(where.values())) if where else []  # one read for every slot
    for host, index in where.items():
        slot = _trusted(blocks[index - 1], handle.block, index, host, damaged, sequences)
        found[host] = slot if slot is not None and slot.host == host and slot.generation == generation else None
    return found


def _trusted(data: bytes, block: int, index: int, host: str,
             damaged: typing.Dict[str, str], sequences: typing.Dict[str, int]) -> typing.Optional[Slot]:
    """The slot in ``data``, block ``index``, if it verifies and its sequence did not go back."""
    try:
        got = decode(data, index, block)
    except statefile.StatefileCorrupt as e:
        damaged[host] = str(e)  # a torn write: read again on the next poll
        return None
    if got is None:
        sequences.pop(host, None)  # blank (ha_set_pool_state init): its count starts over
        return None
    if got.sequence < sequences.get(host, 0):
        damaged[host] = "stale: write %d read after write %d" % (got.sequence, sequences[host])
        return None
    sequences[host] = got.sequence
    return got.slot
