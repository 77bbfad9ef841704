"""The statefile on what xapi really hands a stack: a block device (a loop device here),
and on a regular file, shared by writer processes that must lose no update."""

import os
import subprocess
import sys

import pytest

from sm_clusterstack import runner
from sm_clusterstack.corostack import statefile
from sm_clusterstack.corostack.statefile import PoolState

GEN = "5b3f1a9e-7c2d-4e8f-9a0b-1c2d3e4f5a6b"
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
    assert data.startswith(b"SMCS-STATEFILE 1 ") and data[statefile.BLOCK:] == b"\0" * 16


def test_concurrent_writer_processes_lose_no_update_on_a_block_device(loop_device):
    statefile.initialise(loop_device, PoolState(GEN))
    assert len(concurrent_writers(loop_device).excluded) == WRITERS * UPDATES


def test_concurrent_writer_processes_lose_no_update_on_a_file(tmp_path):
    path = str(tmp_path / "statefile")
    with open(path, "wb") as f:  # the attached VDI: the stack never creates it
        f.truncate(statefile.SIZE)
    statefile.initialise(path, PoolState(GEN))
    assert len(concurrent_writers(path).excluded) == WRITERS * UPDATES
