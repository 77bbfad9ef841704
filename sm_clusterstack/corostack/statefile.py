"""The statefile: pool state, master and excluded hosts, shared by every host.

Format (version 1), one 4 KiB block::

    SMCS-STATEFILE 1 <payload length> <sha256 of payload, hex>\\n<payload JSON>

then NUL padding.  An all-NUL or empty file is a blank (never initialised)
statefile.  Anything else that does not match is corrupt.

Writers hold an exclusive flock: on a block device the device itself,
written in place (one block, then fsync); on a regular file a sidecar
``<path>.lock``, writing a temporary file, fsync and rename.  Readers of a
regular file need no lock (rename is atomic); a torn in-place write of a
block device is caught by the checksum.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import stat
import typing

from sm_clusterstack.stacks.xhadconf import is_uuid

MAGIC = b"SMCS-STATEFILE"
VERSION = 1
BLOCK = 4096
POOL_STATES = ("init", "active", "invalid")


class StatefileError(Exception):
    """The statefile cannot be read or written (MTC 8)."""


class StatefileCorrupt(Exception):
    """The statefile holds something that is not a valid statefile (MTC 9)."""


class PoolState(object):
    """What the statefile records for the pool."""

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


def encode(state: PoolState) -> bytes:
    """The statefile block for ``state``."""
    payload = json.dumps(state.to_dict(), sort_keys=True).encode("ascii")
    head = b"%s %d %d %s\n" % (MAGIC, VERSION, len(payload), hashlib.sha256(payload).hexdigest().encode())
    data = head + payload
    if len(data) > BLOCK:
        raise StatefileError("statefile record of %d bytes exceeds %d" % (len(data), BLOCK))
    return data + b"\0" * (BLOCK - len(data))


def decode(data: bytes) -> typing.Optional[PoolState]:
    """The PoolState in ``data``; None when blank; StatefileCorrupt when invalid."""
    block = data[:BLOCK]
    if not block.strip(b"\0"):
        return None
    head, sep, rest = block.partition(b"\n")
    fields = head.split(b" ")
    if not sep or len(fields) != 4 or fields[0] != MAGIC:
        raise StatefileCorrupt("statefile: no valid header")
    if fields[1] != b"%d" % VERSION:
        raise StatefileCorrupt("statefile: unsupported version %r" % fields[1].decode("ascii", "replace"))
    if not fields[2].isdigit() or int(fields[2]) > len(rest):
        raise StatefileCorrupt("statefile: bad payload length")
    payload = rest[:int(fields[2])]
    if hashlib.sha256(payload).hexdigest().encode() != fields[3]:
        raise StatefileCorrupt("statefile: checksum mismatch")
    if rest[len(payload):].strip(b"\0"):
        raise StatefileCorrupt("statefile: data after the payload")
    return _from_payload(payload)


def _from_payload(payload: bytes) -> PoolState:
    try:
        obj = json.loads(payload.decode("ascii"))
    except ValueError:
        raise StatefileCorrupt("statefile: payload is not JSON")
    if not isinstance(obj, dict) or obj.get("version") != VERSION:
        raise StatefileCorrupt("statefile: payload is not a version %d record" % VERSION)
    gen, state, master, excluded = (obj.get(k) for k in ("generation", "pool_state", "master", "excluded"))
    if not is_uuid(gen) or state not in POOL_STATES or not (master == "" or is_uuid(master)):
        raise StatefileCorrupt("statefile: bad generation, pool_state or master")
    if not isinstance(excluded, list) or not all(is_uuid(h) for h in excluded):
        raise StatefileCorrupt("statefile: bad excluded list")
    return PoolState(gen, state, master, excluded)


def read(path: str) -> typing.Optional[PoolState]:
    """Read the statefile at ``path``: a PoolState, or None when blank."""
    try:
        with open(path, "rb") as f:
            return decode(f.read(BLOCK))
    except OSError as e:
        raise StatefileError("statefile %s: %s" % (path, e.strerror or e))


def update(path: str, change: typing.Callable[[typing.Optional[PoolState]], PoolState]) -> PoolState:
    """Under the writers' lock, read the state, apply ``change`` and write its result.

    ``change`` gets the current state (None when blank) and may raise to
    abort; a corrupt statefile raises StatefileCorrupt before it is called.
    """
    try:
        with _locked(path) as device:
            new = change(read(path))
            _store(path, new, device)
            return new
    except OSError as e:
        raise StatefileError("statefile %s: %s" % (path, e.strerror or e))


def write(path: str, state: PoolState) -> None:
    """Replace the state whatever the statefile holds now (used by init)."""
    try:
        with _locked(path) as device:
            _store(path, state, device)
    except OSError as e:
        raise StatefileError("statefile %s: %s" % (path, e.strerror or e))


@contextlib.contextmanager
def _locked(path):
    # The statefile is the VDI xapi attached: never create it. A missing one
    # (not attached yet) must fail, not become a private file on each host.
    os.stat(path)
    device = _is_block_device(path)
    fd = os.open(path if device else path + ".lock", (os.O_RDWR if device else os.O_RDWR | os.O_CREAT), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield device
    finally:
        os.close(fd)


def _is_block_device(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def _store(path: str, state: PoolState, device: bool) -> None:
    if device:
        _write_device(path, state)
    else:
        _write_file(path, state)


def _write_device(path: str, state: PoolState) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, encode(state), 0)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: str, state: PoolState) -> None:
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, encode(state))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    dir_fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
