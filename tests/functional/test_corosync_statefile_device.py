"""The statefile on what xapi really hands a stack: a block device (a loop device here),
and on a regular file, shared by writer processes that must lose no update.

As xhad's ``lib/statefileio.c`` (``sf_open``: ``O_RDWR | O_DIRECT``), the
stack reads and writes the device past the page cache: a block it wrote is
on the device at once, and one written on the device behind its back (by
another host) is what it reads next, never a cached page."""

import mmap
import os
import subprocess
import sys

import pytest

from sm_clusterstack import runner
from sm_clusterstack.corostack import blocklayout, hostslot, statefile
from sm_clusterstack.corostack.statefile import PoolState
from sm_clusterstack.stacks.xhadconf import Host, XhadConfig

GEN = "5b3f1a9e-7c2d-4e8f-9a0b-1c2d3e4f5a6b"
H1, H2 = "8f1c2a34-0000-4000-8000-000000000001", "8f1c2a34-0000-4000-8000-000000000002"
WRITERS = 8
UPDATES = 5

WRITER = """
import sys
from sm_clusterstack.corostack import statefile
path, who, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    def change(old, i=i):
        old.excluded.append("8f1c2a34-0000-4000-8000-%06d%06d" % (who, i))
        return old
    statefile.update(path, change)
"""


@pytest.fixture
def loop_device(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root for a loop device")
    backing = tmp_path / "statefile.img"
    with open(str(backing), "wb") as f:
        f.truncate(4 * 1024 * 1024)
    attached = runner.run(["losetup", "-f", "--show", str(backing)], timeout=30)
    if not attached.ok:
        pytest.skip("no loop device available: %s" % attached.describe())
    device = attached.stdout.strip()
    try:
        yield device
    finally:
        runner.run(["losetup", "-d", device], timeout=30)


def concurrent_writers(path):
    """WRITERS processes each add UPDATES excluded hosts at once; the state they leave."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, path, str(w), str(UPDATES)], env=env)
             for w in range(WRITERS)]
    assert [p.wait(120) for p in procs] == [0] * WRITERS
    return statefile.read(path)


def test_block_device_statefile_is_written_in_place_and_read_back(loop_device):
    assert statefile.read(loop_device) is None  # a fresh VDI is blank, not corrupt
    statefile.initialise(loop_device, PoolState(GEN, "init"))
    statefile.update(loop_device, lambda old: PoolState(GEN, "active", old.master, old.excluded))
    assert statefile.read(loop_device) == PoolState(GEN, "active")
    assert not os.path.exists(loop_device + ".lock")
    with open(loop_device, "rb") as f:
        data = f.read(statefile.BLOCK + 16)
    assert blocklayout.unpack(statefile.MAGIC, data, 0, statefile.BLOCK).sequence == 2
    assert data[statefile.BLOCK:] == b"\0" * 16


def test_block_device_io_is_direct_aligned_and_sees_writes_behind_its_back(loop_device):
    """O_DIRECT on the loop device; a slot rewritten on the device by someone else is read as written,
    and one torn there (the first sector of a new write over an older one) is reported, not trusted."""
    statefile.initialise(loop_device, PoolState(GEN))
    hosts = [Host(H1, "10.0.0.1"), Host(H2, "10.0.0.2")]
    conf = XhadConfig(GEN, hosts, H1, loop_device)
    with statefile.opened(loop_device, write=True) as handle:
        assert handle.buffered == "" and handle.block == 4096
        hostslot.write(handle, conf, hostslot.Slot(GEN, H2, 1, "online"))
        assert hostslot.read_all(handle, conf)[H2].seq == 1
        newer = hostslot.encode(hostslot.Slot(GEN, H2, 2, "fencing"), 2, 2)
        other = os.open(loop_device, os.O_RDWR | os.O_DIRECT)
        try:
            _write_direct(other, 2 * 4096, newer)
            assert hostslot.read_all(handle, conf)[H2].seq == 2
            _write_direct(other, 2 * 4096, hostslot.encode(hostslot.Slot(GEN, H2, 3, "left"), 2, 3)[:512] + newer[512:])
        finally:
            os.close(other)
        damaged = {}
        assert hostslot.read_all(handle, conf, damaged)[H2] is None and "checksum" in damaged[H2]


def _write_direct(fd, offset, data):
    buf = mmap.mmap(-1, len(data))
    buf[:] = data
    os.lseek(fd, offset, os.SEEK_SET)
    assert os.writev(fd, [buf]) == len(data)


def test_concurrent_writer_processes_lose_no_update_on_a_block_device(loop_device):
    statefile.initialise(loop_device, PoolState(GEN))
    assert len(concurrent_writers(loop_device).excluded) == WRITERS * UPDATES


def test_concurrent_writer_processes_lose_no_update_on_a_file(tmp_path):
    path = str(tmp_path / "statefile")
    with open(path, "wb") as f:  # the attached VDI: the stack never creates it
        f.truncate(statefile.SIZE)
    statefile.initialise(path, PoolState(GEN))
    assert len(concurrent_writers(path).excluded) == WRITERS * UPDATES
