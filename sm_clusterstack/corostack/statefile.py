"""The statefile: the pool's record and one slot per host, shared by every host.

The file is the VDI xapi attached (4096 + 64 x 4096 = 266,240 bytes; the
stack never creates it).  Block 0 holds the pool record; block 1 + i holds
the slot of the i-th host of xhad.conf in HostID order (``hostslot``).
A block is the device's logical block size, at least 4096 (``directio``),
and each is one checksummed, sequence-numbered record (``blocklayout``).

Every write is one block written in place past the page cache (O_DIRECT,
or buffered with fdatasync where the filesystem refuses it): hosts write
their own slots concurrently, so the file is never replaced.  Changes of
the pool record (read, change, write) hold an exclusive flock on the
statefile itself; across hosts that relies on the filesystem's
cluster-wide flock (OCFS2 provides it).  A torn write fails the checksum.
"""

import contextlib
import fcntl
import os
import typing

from sm_clusterstack.corostack import blocklayout, directio
from sm_clusterstack.corostack.blocklayout import StatefileCorrupt, StatefileVersion  # noqa: F401 (re-exported)
from sm_clusterstack.stacks.xhadconf import MAX_HOSTS, is_uuid

MAGIC = b"SMCS-STATEFILE"
VERSION = blocklayout.VERSION
BLOCK = blocklayout.MIN_BLOCK
SIZE = BLOCK + MAX_HOSTS * BLOCK  # what xapi creates: 266,240 bytes
POOL_STATES = ("init", "active", "invalid")
Handle = directio.Handle


class StatefileError(Exception):
    """The statefile cannot be read or written (MTC 8)."""


class PoolState(object):
    """What block 0 records for the pool."""

    def __init__(self, generation: str, pool_state: str = "init", master: str = "",
                 excluded: typing.Iterable[str] = ()) -> None:
        self.generation = generation.lower()
        self.pool_state = pool_state
        self.master = master.lower()
        self.excluded = sorted(set(h.lower() for h in excluded))

    def to_dict(self) -> dict:
        """The JSON payload."""
        return {"generation": self.generation, "pool_state": self.pool_state,
                "master": self.master, "excluded": sorted(set(self.excluded))}

    def __eq__(self, other):
        return isinstance(other, PoolState) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return "PoolState(%r)" % (self.to_dict(),)


def encode(state: PoolState, sequence: int = 1, block: int = BLOCK) -> bytes:
    """Block 0 for ``state``, its ``sequence``-th write."""
    return blocklayout.pack(MAGIC, 0, sequence, state.to_dict(), block)


def decode(data: bytes, block: int = BLOCK) -> typing.Optional[PoolState]:
    """The PoolState in block 0 ``data``; None when blank; StatefileCorrupt when invalid."""
    record = _record(data, block)
    if record is None:
        return None
    obj = record.payload
    gen, state, master, excluded = (obj.get(k) for k in ("generation", "pool_state", "master", "excluded"))
    if not is_uuid(gen) or state not in POOL_STATES or not (master == "" or is_uuid(master)):
        raise StatefileCorrupt("statefile: bad generation, pool_state or master")
    if not isinstance(excluded, list) or not all(is_uuid(h) for h in excluded):
        raise StatefileCorrupt("statefile: bad excluded list")
    return PoolState(gen, state, master, excluded)


def _record(data: bytes, block: int) -> typing.Optional[blocklayout.Record]:
    try:
        return blocklayout.unpack(MAGIC, data, 0, block)
    except StatefileCorrupt as e:
        raise type(e)("statefile: %s" % e)


def _error(path: str, e: OSError) -> StatefileError:
    return StatefileError("statefile %s: %s" % (path, e.strerror or e))


@contextlib.contextmanager
def opened(path: str, write: bool = False) -> typing.Iterator[Handle]:
    """The statefile's Handle, after checking its size (StatefileError 8, StatefileCorrupt 9)."""
    try:
        handle = directio.open_blocks(path, write)  # never O_CREAT: xapi attaches it
    except OSError as e:
        raise _error(path, e)
    try:
        size = os.lseek(handle.fd, 0, os.SEEK_END)
        needed = handle.block * (1 + MAX_HOSTS)
        if size < needed:
            raise StatefileCorrupt("statefile %s: %d bytes, a statefile of %d-byte blocks has at least %d"
                                   % (path, size, handle.block, needed))
        yield handle
    except OSError as e:
        raise _error(path, e)
    finally:
        handle.close()


def read_block(handle: Handle, index: int) -> bytes:
    """Block ``index`` (0: the pool, 1 + i: host slot i)."""
    return handle.read(index)


def write_block(handle: Handle, index: int, data: bytes) -> None:
    """Write block ``index`` in place and make it durable."""
    handle.write(index, data)


def read_pool(handle: Handle) -> typing.Optional[PoolState]:
    """The pool record in block 0 of an open statefile."""
    return decode(handle.read(0), handle.block)


def read(path: str) -> typing.Optional[PoolState]:
    """The pool record, or None when blank."""
    with opened(path) as handle:
        return read_pool(handle)


def update(path: str, change: typing.Callable[[typing.Optional[PoolState]], PoolState]) -> PoolState:
    """Under the statefile's lock, read the pool record, apply ``change`` and write its result.

    ``change`` gets the current record (None when blank) and may raise to
    abort; a corrupt record raises StatefileCorrupt before it is called.
    """
    with opened(path, write=True) as handle:
        fcntl.flock(handle.fd, fcntl.LOCK_EX)
        data = handle.read(0)
        new = change(decode(data, handle.block))
        sequence = blocklayout.sequence_of(MAGIC, data, 0, handle.block) + 1
        handle.write(0, encode(new, sequence, handle.block))
        return new


def initialise(path: str, state: PoolState) -> None:
    """Write ``state`` whatever the statefile holds now (any format), and blank every host slot (init).

    As xhad's ``writestatefile setinit`` (``commands/writestatefile.c``,
    ``global_init_state``): what the file held is not read, not even its format.
    """
    with opened(path, write=True) as handle:
        fcntl.flock(handle.fd, fcntl.LOCK_EX)
        blank = b"\0" * handle.block
        for index in range(1, MAX_HOSTS + 1):
            handle.write(index, blank)
        handle.write(0, encode(state, 1, handle.block))
