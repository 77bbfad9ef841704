"""One block of the statefile: a fixed header, a JSON payload, NUL padding and a checksum at its end.

Learnt from xhad's statefile (``include/statefile.h``, ``SF_GLOBAL_SECTION``
and ``SF_HOST_SPECIFIC_SECTION``; ``lib/statefileio.c``, ``sf_readglobal``,
``sf_writehostspecific``): every section is one aligned block of its own,
starts with a signature, carries the format version and the layout's
lengths, a sequence number moved on every write, and a checksum over the
section up to an end marker, so a reader rejects a torn or foreign
section instead of trusting it.  Here (format 2)::

    offset 0    magic (16 bytes, NUL padded): SMCS-STATEFILE or SMCS-HOSTSLOT
           16   version (u32, little endian): 2
           20   block size (u32) the writer used
           24   index (u32): the block's own place in the file (0 pool, 1 + i host i)
           28   sequence (u64): moved on every write of this block
           36   payload length (u32), then the payload (JSON) and NUL padding
    block - 32  sha256 of everything before it

The checksum covers the whole block, so a write torn at any sector (the
head new, the tail old, or the reverse) fails it; the index catches a
block written to the wrong place; the sequence lets a reader see a block
go back in time (``stale``).  An all-NUL block is blank (never written).
Format 1 (``<magic> 1 <length> <sha256>\\n<JSON>``, corosync-ha before
this layout) is recognised and refused with a clear error
(``StatefileVersion``); ``ha_set_pool_state init`` rewrites the file, as
xhad's ``writestatefile setinit`` does whatever the file held.
"""

import collections
import hashlib
import json
import struct
import typing

VERSION = 2
HEAD = struct.Struct("<16sIIIQI")  # magic, version, block size, index, sequence, payload length
DIGEST = 32  # sha256, in the block's last bytes
MIN_BLOCK = 4096  # xhad's LENGTH_GLOBAL and LENGTH_HOST_SPECIFIC

Record = collections.namedtuple("Record", ["index", "sequence", "payload"])
Record.__doc__ = "One verified block: where it belongs, its write sequence and its JSON object."


class StatefileCorrupt(Exception):
    """The statefile holds something that is not a valid statefile (MTC 9)."""


class StatefileVersion(StatefileCorrupt):
    """A block of another format version (xhad's MTC_ERROR_SF_VERSION_MISMATCH, also exit 9)."""


def room(block: int) -> int:
    """The most payload bytes one block of ``block`` bytes holds."""
    return block - HEAD.size - DIGEST


def pack(magic: bytes, index: int, sequence: int, payload: dict, block: int) -> bytes:
    """The block of ``block`` bytes holding ``payload`` at ``index``, write number ``sequence``."""
    data = json.dumps(payload, sort_keys=True).encode("ascii")
    if len(data) > room(block):
        raise ValueError("statefile record of %d bytes exceeds the %d a block holds" % (len(data), room(block)))
    body = HEAD.pack(magic, VERSION, block, index, sequence, len(data)) + data
    body += b"\0" * (block - DIGEST - len(body))
    return body + hashlib.sha256(body).digest()


def unpack(magic: bytes, data: bytes, index: int, block: int) -> typing.Optional[Record]:
    """The Record in ``data`` read at ``index``; None when blank; StatefileCorrupt saying why not."""
    data = bytes(data[:block])
    if not data.strip(b"\0"):
        return None
    if data.startswith(magic + b" 1 "):
        raise StatefileVersion("format 1 (an older corosync-ha); format %d expected: "
                               "run ha_set_pool_state init (enable HA again)" % VERSION)
    if len(data) < block:
        raise StatefileCorrupt("a short block: %d bytes of %d" % (len(data), block))
    if HEAD.unpack_from(data)[0].rstrip(b"\0") != magic:
        raise StatefileCorrupt("no valid header")
    _magic, version, size, where, sequence, length = HEAD.unpack_from(data)
    if version != VERSION:
        raise StatefileVersion("format %d; format %d expected" % (version, VERSION))
    if size != block:
        raise StatefileCorrupt("written with %d-byte blocks, read with %d" % (size, block))
    if hashlib.sha256(data[:-DIGEST]).digest() != data[-DIGEST:]:
        raise StatefileCorrupt("checksum mismatch (a torn or damaged block)")
    if where != index:
        raise StatefileCorrupt("block %d found at %d (a misplaced write)" % (where, index))
    if length > room(block):
        raise StatefileCorrupt("bad payload length")
    try:
        obj = json.loads(data[HEAD.size:HEAD.size + length].decode("ascii"))
    except ValueError:
        raise StatefileCorrupt("payload is not JSON")
    if not isinstance(obj, dict):
        raise StatefileCorrupt("payload is not a record")
    return Record(where, sequence, obj)


def sequence_of(magic: bytes, data: bytes, index: int, block: int) -> int:
    """The write sequence of the block in ``data``; 0 when blank or not valid (the next write starts over)."""
    try:
        found = unpack(magic, data, index, block)
    except StatefileCorrupt:
        return 0
    return found.sequence if found is not None else 0
