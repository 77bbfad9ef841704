"""The statefile: the pool's record and one slot per host, shared by every host.

The file is the VDI xapi attached (4096 + 64 x 4096 = 266,240 bytes; the
stack never creates it).  Block 0 holds the pool record; block 1 + i holds
the slot of the i-th host of xhad.conf in HostID order (``hostslot``).
Every block is one checksummed record::

    <MAGIC> 1 <payload length> <sha256 of payload, hex>\\n<payload JSON>

then NUL padding; an all-NUL block is blank (never written).  Anything
else that does not verify is corrupt.

Every write is one block written in place, then fsynced: hosts write their
own slots concurrently, so the file is never replaced.  Changes of the
pool record (read, change, write) hold an exclusive flock on the statefile
itself; across hosts that relies on the filesystem's cluster-wide flock
(OCFS2 provides it).  A torn write is caught by the checksum.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import typing

from sm_clusterstack.stacks.xhadconf import MAX_HOSTS, is_uuid

MAGIC = b"SMCS-STATEFILE"
VERSION = 1
BLOCK = 4096
SIZE = BLOCK + MAX_HOSTS * BLOCK  # what xapi creates: 266,240 bytes
POOL_STATES = ("init", "active", "invalid")


class StatefileError(Exception):
    """The statefile cannot be read or written (MTC 8)."""


class StatefileCorrupt(Exception):
    """The statefile holds something that is not a valid statefile (MTC 9)."""


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
        return {"version": VERSION, "generation": self.generation, "pool_state": self.pool_state,
                "master": self.master, "excluded": sorted(set(self.excluded))}

    def __eq__(self, other):
        return isinstance(other, PoolState) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return "PoolState(%r)" % (self.to_dict(),)


def pack(magic: bytes, obj: dict) -> bytes:
    """One block holding ``obj`` as a checksummed record."""
    payload = json.dumps(obj, sort_keys=True).encode("ascii")
    head = b"%s %d %d %s\n" % (magic, VERSION, len(payload), hashlib.sha256(payload).hexdigest().encode())
    data = head + payload
    if len(data) > BLOCK:
        raise StatefileError("statefile record of %d bytes exceeds %d" % (len(data), BLOCK))
    return data + b"\0" * (BLOCK - len(data))


def unpack(magic: bytes, block: bytes) -> typing.Optional[dict]:
    """The JSON object of a record block; None when blank; StatefileCorrupt when invalid."""
    block = block[:BLOCK]
    if not block.strip(b"\0"):
        return None
    head, sep, rest = block.partition(b"\n")
    fields = head.split(b" ")
    if not sep or len(fields) != 4 or fields[0] != magic:
        raise StatefileCorrupt("no valid header")
    if fields[1] != b"%d" % VERSION:
        raise StatefileCorrupt("unsupported version %r" % fields[1].decode("ascii", "replace"))
    if not fields[2].isdigit() or int(fields[2]) > len(rest):
        raise StatefileCorrupt("bad payload length")
    payload = rest[:int(fields[2])]
    if hashlib.sha256(payload).hexdigest().encode() != fields[3]:
        raise StatefileCorrupt("checksum mismatch")
    if rest[len(payload):].strip(b"\0"):
        raise StatefileCorrupt("data after the payload")
    try:
        obj = json.loads(payload.decode("ascii"))
    except ValueError:
        raise StatefileCorrupt("payload is not JSON")
    if not isinstance(obj, dict) or obj.get("version") != VERSION:
        raise StatefileCorrupt("payload is not a version %d record" % VERSION)
    return obj


def encode(state: PoolState) -> bytes:
    """Block 0 for ``state``."""
    return pack(MAGIC, state.to_dict())


def decode(data: bytes) -> typing.Optional[PoolState]:
    """The PoolState in block 0 ``data``; None when blank; StatefileCorrupt when invalid."""
    try:
        obj = unpack(MAGIC, data)
    except StatefileCorrupt as e:
        raise StatefileCorrupt("statefile: %s" % e)
    if obj is None:
        return None
    gen, state, master, excluded = (obj.get(k) for k in ("generation", "pool_state", "master", "excluded"))
    if not is_uuid(gen) or state not in POOL_STATES or not (master == "" or is_uuid(master)):
        raise StatefileCorrupt("statefile: bad generation, pool_state or master")
    if not isinstance(excluded, list) or not all(is_uuid(h) for h in excluded):
        raise StatefileCorrupt("statefile: bad excluded list")
    return PoolState(gen, state, master, excluded)


def _error(path: str, e: OSError) -> StatefileError:
    return StatefileError("statefile %s: %s" % (path, e.strerror or e))


@contextlib.contextmanager
def opened(path: str, write: bool = False):
    """The statefile's fd, after checking its size (StatefileError 8, StatefileCorrupt 9)."""
    try:
        fd = os.open(path, os.O_RDWR if write else os.O_RDONLY)  # never O_CREAT: xapi attaches it
    except OSError as e:
        raise _error(path, e)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        if size < SIZE:
            raise StatefileCorrupt("statefile %s: %d bytes, a statefile has at least %d" % (path, size, SIZE))
        yield fd
    except OSError as e:
        raise _error(path, e)
    finally:
        os.close(fd)


def read_block(fd: int, index: int) -> bytes:
    """Block ``index`` (0: the pool, 1 + i: host slot i)."""
    return os.pread(fd, BLOCK, index * BLOCK)


def write_block(fd: int, index: int, data: bytes) -> None:
    """Write block ``index`` in place and make it durable."""
    if os.pwrite(fd, data, index * BLOCK) != BLOCK:
        raise OSError(5, "short write")
    os.fsync(fd)


def read(path: str) -> typing.Optional[PoolState]:
    """The pool record, or None when blank."""
    with opened(path) as fd:
        return decode(read_block(fd, 0))


def update(path: str, change: typing.Callable[[typing.Optional[PoolState]], PoolState]) -> PoolState:
    """Under the statefile's lock, read the pool record, apply ``change`` and write its result.

    ``change`` gets the current record (None when blank) and may raise to
    abort; a corrupt record raises StatefileCorrupt before it is called.
    """
    with opened(path, write=True) as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)
        new = change(decode(read_block(fd, 0)))
        write_block(fd, 0, encode(new))
        return new


def initialise(path: str, state: PoolState) -> None:
    """Write ``state`` whatever the statefile holds now, and blank every host slot (init)."""
    with opened(path, write=True) as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)
        blank = b"\0" * BLOCK
        for index in range(1, MAX_HOSTS + 1):
            if os.pwrite(fd, blank, index * BLOCK) != BLOCK:
                raise OSError(5, "short write")
        write_block(fd, 0, encode(state))
