"""Whole-block I/O on the statefile past the page cache: O_DIRECT into an aligned buffer.

As xhad does (``lib/statefileio.c``: ``sf_open`` opens with
``O_RDWR | O_DIRECT``; ``sf_read``/``sf_write`` seek and move whole
``IOUNIT``-aligned sections; the ``STATE_FILE`` buffer is
``aligned (IOALIGN)``, 4096), every read sees what the shared storage
holds now, not a page another host's write never reached, and every write
reaches the storage.  Here the buffer is an anonymous mmap (page aligned),
a block is the device's logical block size and at least 4096 bytes, and
writes also carry O_DSYNC (the device's write cache is flushed too).

Where the filesystem refuses O_DIRECT (EINVAL: some FUSE files, older
tmpfs), the file is opened buffered and every write is followed by
fdatasync; ``Handle.buffered`` says why, and the first such open of a path
in this process is written once to the process's log.  A Handle belongs to
one thread (its file offset and buffer are its own).
"""

import errno
import fcntl
import mmap
import os
import stat
import struct
import typing

from sm_clusterstack.corostack import blocklayout, log

BLKSSZGET = 0x1268  # ioctl: a block device's logical sector size
_told = set()  # type: typing.Set[str]  # paths whose buffered fallback this process has logged


class Handle(object):
    """An open statefile: its fd, block size and aligned buffer."""

    def __init__(self, fd: int, block: int, buffered: str) -> None:
        self.fd, self.block, self.buffered = fd, block, buffered
        self.buffer = mmap.mmap(-1, block)
        self.span = None  # type: typing.Optional[mmap.mmap]  # for read_span, made on first use

    def read(self, index: int) -> bytes:
        """Block ``index`` as the storage holds it."""
        got = self._io(os.readv, index)
        return self.buffer[:got]

    def read_span(self, first: int, count: int) -> typing.List[bytes]:
        """Blocks ``first`` to ``first + count - 1`` in one read (a short read leaves the last ones short)."""
        if self.span is None or len(self.span) < count * self.block:
            if self.span is not None:
                self.span.close()
            self.span = mmap.mmap(-1, count * self.block)
        got = self._io(os.readv, first, self.span)
        return [self.span[i * self.block:min(got, (i + 1) * self.block)] for i in range(count)]

    def write(self, index: int, data: bytes) -> None:
        """Write ``data`` (one whole block) at ``index`` and make it durable."""
        if len(data) != self.block:
            raise ValueError("a statefile write is one %d-byte block, not %d bytes" % (self.block, len(data)))
        self.buffer[:] = data
        if self._io(os.writev, index) != self.block:
            raise OSError(errno.EIO, "short write")
        if self.buffered:
            os.fdatasync(self.fd)

    def _io(self, call: typing.Callable[[int, typing.List[mmap.mmap]], int], index: int,
            buffer: typing.Optional[mmap.mmap] = None) -> int:
        """``call`` (readv or writev) on block ``index``; buffered from now on if O_DIRECT I/O is refused."""
        buffer = buffer if buffer is not None else self.buffer
        os.lseek(self.fd, index * self.block, os.SEEK_SET)
        try:
            return call(self.fd, [buffer])
        except OSError as e:
            if e.errno != errno.EINVAL or self.buffered:
                raise
        self.buffered = "O_DIRECT I/O refused: buffered I/O with fdatasync"
        fcntl.fcntl(self.fd, fcntl.F_SETFL, fcntl.fcntl(self.fd, fcntl.F_GETFL) & ~(os.O_DIRECT | os.O_DSYNC))
        os.lseek(self.fd, index * self.block, os.SEEK_SET)
        return call(self.fd, [buffer])

    def close(self) -> None:
        """Close the fd and free the buffers."""
        self.buffer.close()
        if self.span is not None:
            self.span.close()
        os.close(self.fd)


def open_blocks(path: str, write: bool,
                os_open: typing.Callable[[str, int], int] = os.open) -> Handle:
    """A Handle on ``path`` (never created: xapi attaches it), O_DIRECT where the filesystem takes it."""
    flags = os.O_RDWR if write else os.O_RDONLY
    buffered = ""
    try:
        fd = os_open(path, flags | os.O_DIRECT | os.O_DSYNC)
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
        buffered = "O_DIRECT refused (%s): buffered I/O with fdatasync" % (e.strerror or e)
        fd = os_open(path, flags)
    try:
        handle = Handle(fd, block_size(fd), buffered)
    except BaseException:
        os.close(fd)
        raise
    if buffered and path not in _told:
        _told.add(path)
        log.to_process_log("statefile %s: %s" % (path, buffered))
    return handle


def block_size(fd: int) -> int:
    """The device's logical block size, at least 4096 (a block device's own, else its filesystem's disk's)."""
    st = os.fstat(fd)
    if stat.S_ISBLK(st.st_mode):
        logical = struct.unpack("i", fcntl.ioctl(fd, BLKSSZGET, struct.pack("i", 0)))[0]
    else:
        logical = _sysfs_logical(st.st_dev)
    return max(blocklayout.MIN_BLOCK, logical)


def _sysfs_logical(dev: int) -> int:
    """The logical block size of the disk holding a filesystem (512 when none: tmpfs, FUSE)."""
    base = "/sys/dev/block/%d:%d" % (os.major(dev), os.minor(dev))
    for where in (base, os.path.join(base, "..")):  # a partition's queue is its disk's
        try:
            with open(os.path.join(where, "queue", "logical_block_size")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            continue
    return 512
