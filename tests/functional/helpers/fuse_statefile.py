"""A statefile whose I/O really blocks: files served by this FUSE server, stalled by SIGSTOP.

A heartbeat SR's path stalling (a storage controller failing over, a
multipath queueing) blocks every process that touches the statefile
inside the kernel until the path returns.  This is the same thing on any
Linux machine with /dev/fuse and no FUSE library: a server speaking the
kernel's FUSE protocol over /dev/fuse (the few requests flat files need:
INIT, LOOKUP, GETATTR, SETATTR, CREATE, MKNOD, UNLINK, OPEN, READ, WRITE,
FSYNC, FLUSH, RELEASE), mounted with mount(2).  Files are opened with
direct I/O, so every read and write goes to the server; ``stall`` stops
the server (SIGSTOP), and from then on every open, read, write and fsync
waits in the kernel (killably: a stalled host can still be torn down)
until ``resume``.

Run as ``python fuse_statefile.py MOUNTPOINT SIZE``: it mounts, prints
``ready`` and serves ``MOUNTPOINT/statefile`` (SIZE zero bytes at first),
and any flat file created beside it (a fixture driver's VDIs), until
unmounted.  ``FuseStatefile`` runs it and drives it.
"""

import ctypes
import os
import signal
import stat
import struct
import subprocess
import sys

NAME = b"statefile"
ROOT, FILE = 1, 2  # node ids
IN_HEADER = struct.Struct("<IIQQIIIHH")  # len, opcode, unique, nodeid, uid, gid, pid, extlen, padding
OUT_HEADER = struct.Struct("<IiQ")  # len, error, unique
# fuse_attr: ino size blocks atime mtime ctime, their three nsec, mode nlink uid gid rdev blksize flags
ATTR = struct.Struct("<QQQQQQIIIIIIIIII")
VALID = 3600  # seconds the kernel may cache names and attributes: only data I/O reaches the server
LOOKUP, FORGET, GETATTR, SETATTR, MKNOD, UNLINK, OPEN, READ, WRITE = 1, 2, 3, 4, 8, 10, 14, 15, 16
RELEASE, FSYNC, FLUSH, INIT = 18, 20, 25, 26
OPENDIR, READDIR, RELEASEDIR, CREATE, INTERRUPT, DESTROY, BATCH_FORGET = 27, 28, 29, 35, 36, 38, 42
NO_REPLY = (FORGET, INTERRUPT, BATCH_FORGET)
FOPEN_DIRECT_IO = 1
FATTR_SIZE = 1 << 3
ENOENT, EEXIST, ENOSYS, ENODEV = 2, 17, 38, 19


class Sparse(object):
    """A file's bytes, kept as the blocks written: a 4 GiB VDI truncated to size costs nothing."""

    BLOCK = 64 * 1024

    def __init__(self, size=0):
        self.size, self.blocks = size, {}

    def __len__(self):
        return self.size

    def resize(self, size):
        self.size = size
        for index in [i for i in self.blocks if i * self.BLOCK >= size]:
            del self.blocks[index]

    def read(self, offset, size):
        end = min(offset + size, self.size)
        out = bytearray()
        while offset < end:
            index, start = divmod(offset, self.BLOCK)
            take = min(self.BLOCK - start, end - offset)
            block = self.blocks.get(index)
            out += block[start:start + take] if block is not None else bytes(take)
            offset += take
        return bytes(out)

    def write(self, offset, data):
        done = 0
        while done < len(data):
            index, start = divmod(offset + done, self.BLOCK)
            take = min(self.BLOCK - start, len(data) - done)
            block = self.blocks.setdefault(index, bytearray(self.BLOCK))
            block[start:start + take] = data[done:done + take]
            done += take
        self.size = max(self.size, offset + len(data))


class Server(object):
    """The files' bytes and the replies to the kernel's requests."""

    def __init__(self, fd, size):
        self.fd = fd
        self.names = {NAME: FILE}  # name -> node
        self.files = {FILE: Sparse(size)}  # node -> its bytes

    def attr(self, node):
        if node == ROOT:
            mode, size, nlink = stat.S_IFDIR | 0o755, 0, 2
        else:
            mode, size, nlink = stat.S_IFREG | 0o600, len(self.files[node]), 1
        return ATTR.pack(node, size, (size + 511) // 512, 0, 0, 0, 0, 0, 0, mode, nlink, 0, 0, 0, 4096, 0)

    def entry(self, node):
        return struct.pack("<QQQQII", node, 1, VALID, VALID, 0, 0) + self.attr(node)

    def reply(self, unique, error=0, body=b""):
        os.write(self.fd, OUT_HEADER.pack(OUT_HEADER.size + len(body), -error, unique) + body)

    def make(self, name):
        """A new empty file ``name``; its node (None when it exists)."""
        if name in self.names:
            return None
        node = max(self.files) + 1
        self.names[name], self.files[node] = node, Sparse()
        return node

    def handle(self, opcode, node, body):
        """(error, reply body) for one request."""
        if opcode == INIT:
            major, minor, readahead, _flags = struct.unpack_from("<IIII", body)
            return 0, struct.pack("<IIIIHHIIHHI", 7, 31, readahead, 0, 16, 12, 128 * 1024, 1, 32, 0, 0) + bytes(24)
        if opcode == LOOKUP:
            found = self.names.get(body.rstrip(b"\0")) if node == ROOT else None
            return (0, self.entry(found)) if found else (ENOENT, b"")
        if opcode in (CREATE, MKNOD):
            made = self.make(body[16:].rstrip(b"\0"))
            if made is None:
                return EEXIST, b""
            return 0, self.entry(made) + (struct.pack("<QII", 0, FOPEN_DIRECT_IO, 0) if opcode == CREATE else b"")
        if opcode == UNLINK:
            gone = self.names.pop(body.rstrip(b"\0"), None)
            return (0, b"") if gone else (ENOENT, b"")
        if opcode in (GETATTR, SETATTR):
            if opcode == SETATTR and node in self.files:
                valid, = struct.unpack_from("<I", body)
                if valid & FATTR_SIZE:
                    size, = struct.unpack_from("<Q", body, 16)
                    self.files[node].resize(size)
            return 0, struct.pack("<QII", VALID, 0, 0) + self.attr(node)
        if opcode in (OPEN, OPENDIR):
            return 0, struct.pack("<QII", 0, FOPEN_DIRECT_IO if opcode == OPEN else 0, 0)
        if opcode == READ:
            _fh, offset, size = struct.unpack_from("<QQI", body)
            return 0, self.files[node].read(offset, size) if node in self.files else b""
        if opcode == WRITE:
            _fh, offset, size = struct.unpack_from("<QQI", body)
            chunk = body[40:40 + size]
            self.files[node].write(offset, chunk)
            return 0, struct.pack("<II", len(chunk), 0)
        if opcode in (RELEASE, FSYNC, FLUSH, RELEASEDIR, DESTROY, READDIR):
            return 0, b""
        return ENOSYS, b""

    def serve(self):
        """Answer requests until the file system is unmounted."""
        while True:
            try:
                request = os.read(self.fd, 1024 * 1024)
            except OSError as e:
                if e.errno == ENODEV:  # unmounted
                    return
                if e.errno == 4:  # EINTR (SIGCONT)
                    continue
                raise
            _len, opcode, unique, node = IN_HEADER.unpack_from(request)[:4]
            if opcode in NO_REPLY:
                continue
            error, body = self.handle(opcode, node, request[IN_HEADER.size:])
            try:
                self.reply(unique, error, body)
            except OSError as e:
                if e.errno != ENOENT:  # ENOENT: the request was interrupted meanwhile
                    raise
            if opcode == DESTROY:
                return


def mount(mountpoint):
    """Open /dev/fuse and mount it at ``mountpoint``; the fd to serve."""
    fd = os.open("/dev/fuse", os.O_RDWR)
    options = "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other" % fd
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"smcs-statefile", mountpoint.encode(), b"fuse.smcs-statefile", 0, options.encode()) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, "mount fuse at %s: %s" % (mountpoint, os.strerror(errno)))
    return fd


def main(argv):
    mountpoint, size = argv[0], int(argv[1])
    fd = mount(mountpoint)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    Server(fd, size).serve()
    return 0


class FuseStatefile(object):
    """The server run for a test: ``path`` is the file; ``stall``, ``resume``, ``close``."""

    def __init__(self, directory, size):
        self.mountpoint = os.path.join(str(directory), "fuse")
        os.makedirs(self.mountpoint, exist_ok=True)
        self.path = os.path.join(self.mountpoint, NAME.decode())
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), self.mountpoint, str(size)],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        if self.proc.stdout.readline().strip() != b"ready":
            self.proc.kill()
            raise OSError("the FUSE statefile server did not start (exit %s)" % self.proc.wait(10))

    def stall(self):
        """From now on every I/O on the file blocks in the kernel."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        """The blocked I/O completes (nothing to do when the server is gone)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def close(self):
        """Unmount (lazily: sandboxes may still hold it) and stop the server."""
        self.resume()
        subprocess.run(["umount", "-l", self.mountpoint], timeout=30, check=False)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def skip_reason():
    """Why a FUSE statefile cannot be served here, or None."""
    if os.geteuid() != 0:
        return "mounting a FUSE file system needs root"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine"
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
