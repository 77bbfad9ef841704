"""The statefile's block layout and its direct I/O, held to xhad's care.

xhad (``include/statefile.h``: one ``LENGTH_GLOBAL`` / ``LENGTH_HOST_SPECIFIC``
section of 4096 bytes each, signature, version, sequence, checksum up to an
end marker; ``lib/statefileio.c``: ``sf_open`` with ``O_DIRECT``,
``sf_readhostspecific`` rejecting a section whose checksum fails,
``sf_readglobal`` reporting ``MTC_ERROR_SF_VERSION_MISMATCH``;
``commands/writestatefile.c`` ``global_init_state`` rewriting the whole file
at ``ha_set_pool_state init``).
"""

import ctypes
import errno
import os

import pytest

from sm_clusterstack.corostack import blocklayout, directio, hostslot, log, slotio, statefile
from sm_clusterstack.corostack.statefile import PoolState
from sm_clusterstack.stacks.xhadconf import Host, XhadConfig

GEN = "5b3f1a9e-7c2d-4e8f-9a0b-1c2d3e4f5a6b"
H1, H2 = "8f1c2a34-0000-4000-8000-000000000001", "8f1c2a34-0000-4000-8000-000000000002"
SLOT = hostslot.Slot(GEN, H1, 7, "online", [H1, H2])


def attached_vdi(tmp_path):
    path = str(tmp_path / "sf")
    with open(path, "wb") as f:
        f.truncate(statefile.SIZE)
    return path


def conf_for(path, local=H1):
    hosts = [Host(H1, "10.0.0.1"), Host(H2, "10.0.0.2")]
    return XhadConfig(GEN, hosts, local, path)


@pytest.mark.parametrize("offset", [3, 17, 24, 30, blocklayout.HEAD.size + 5, 2000, 4096 - 33, 4095])
def test_a_flipped_bit_anywhere_in_a_block_is_detected(offset):
    data = bytearray(hostslot.encode(SLOT, 1, 5))
    data[offset] ^= 0x10
    with pytest.raises(statefile.StatefileCorrupt):
        hostslot.decode(bytes(data), 1)


def test_a_block_torn_between_two_writes_fails_its_checksum():
    """The first sector of a new write over the rest of an older one (a write torn at a sector)."""
    old = hostslot.encode(SLOT, 1, 5)
    new = hostslot.encode(hostslot.Slot(GEN, H1, 8, "fencing", [H1]), 1, 6)
    with pytest.raises(statefile.StatefileCorrupt, match="checksum"):
        hostslot.decode(new[:512] + old[512:], 1)
    with pytest.raises(statefile.StatefileCorrupt, match="checksum"):
        hostslot.decode(old[:512] + new[512:], 1)


def test_a_block_written_to_another_place_is_refused():
    with pytest.raises(statefile.StatefileCorrupt, match="block 2 found at 1"):
        hostslot.decode(hostslot.encode(SLOT, 2, 1), 1)


def test_a_block_carries_its_place_sequence_and_the_writers_block_size():
    found = hostslot.decode(hostslot.encode(SLOT, 3, 42, 8192), 3, 8192)
    assert found == hostslot.Found(SLOT, 42)
    with pytest.raises(statefile.StatefileCorrupt, match="8192-byte blocks, read with 4096"):
        hostslot.decode(hostslot.encode(SLOT, 3, 42, 8192)[:4096 - 32] + bytes(32), 3, 4096)


def test_a_format_1_statefile_is_refused_with_what_to_do_and_init_rewrites_it(tmp_path):
    path = attached_vdi(tmp_path)
    with open(path, "r+b") as f:  # block 0 as corosync-ha wrote it before format 2
        f.write(b'SMCS-STATEFILE 1 12 0123\n{"a": 1}')
    with pytest.raises(statefile.StatefileVersion, match="format 1.*ha_set_pool_state init"):
        statefile.read(path)
    statefile.initialise(path, PoolState(GEN))
    assert statefile.read(path) == PoolState(GEN)


def test_a_block_of_a_later_format_is_a_version_mismatch():
    data = bytearray(statefile.encode(PoolState(GEN)))
    data[16] = 3
    with pytest.raises(statefile.StatefileVersion, match="format 3; format 2 expected"):
        statefile.decode(bytes(data))


def test_each_pool_update_moves_block_0s_sequence(tmp_path):
    path = attached_vdi(tmp_path)
    statefile.initialise(path, PoolState(GEN))
    for _ in range(3):
        statefile.update(path, lambda old: old)
    with statefile.opened(path) as handle:
        assert blocklayout.unpack(statefile.MAGIC, handle.read(0), 0, handle.block).sequence == 4


def test_a_slot_whose_sequence_goes_back_is_stale_and_not_trusted(tmp_path):
    path = attached_vdi(tmp_path)
    statefile.initialise(path, PoolState(GEN))
    conf, sequences, damaged = conf_for(path), {}, {}
    with statefile.opened(path, write=True) as handle:
        assert hostslot.write(handle, conf, SLOT) == 1  # continues from the blank block
        assert hostslot.write(handle, conf, SLOT) == 2
        assert hostslot.read_all(handle, conf, damaged, sequences)[H1] == SLOT
        handle.write(1, hostslot.encode(SLOT, 1, 1))  # what the storage held before: a stale read
        assert hostslot.read_all(handle, conf, damaged, sequences)[H1] is None
    assert damaged == {H1: "stale: write 1 read after write 2"}


def test_rounds_keep_their_own_write_sequence_and_report_damaged_slots(tmp_path):
    path = attached_vdi(tmp_path)
    statefile.initialise(path, PoolState(GEN))
    io = slotio.Inline(conf_for(path))
    io.submit(SLOT)
    io.submit(SLOT)
    assert io.sequences.written == 2 and io.latest().access and io.latest().buffered == ""
    with open(path, "r+b") as f:
        f.seek(2 * 4096 + 100)
        f.write(b"\xff")  # H2's slot block: all NUL but one byte
    io.submit(SLOT)
    assert io.latest().slots[H1] == SLOT and "header" in io.latest().damaged[H2]


def test_the_io_buffer_is_page_aligned_and_a_block_at_least_4096(tmp_path):
    with statefile.opened(attached_vdi(tmp_path)) as handle:
        address = ctypes.addressof(ctypes.c_char.from_buffer(handle.buffer))
        assert address % 4096 == 0 and handle.block >= 4096 and handle.block % 512 == 0


def test_refused_o_direct_falls_back_to_buffered_io_and_says_so_once(tmp_path):
    """As a FUSE file without direct_io refuses it (EINVAL at open)."""
    path = attached_vdi(tmp_path)
    logged = str(tmp_path / "log")
    log.Log(logged, "test")

    def no_direct(name, flags):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return os.open(name, flags)
    for _ in range(2):
        handle = directio.open_blocks(path, True, os_open=no_direct)
        try:
            handle.write(0, statefile.encode(PoolState(GEN)))
            assert "O_DIRECT refused" in handle.buffered and statefile.decode(handle.read(0)) == PoolState(GEN)
        finally:
            handle.close()
    with open(logged) as f:
        assert f.read().count("O_DIRECT refused") == 1


def test_a_statefile_too_small_for_its_devices_blocks_is_invalid(tmp_path):
    path = str(tmp_path / "sf")
    with open(path, "wb") as f:
        f.truncate(statefile.SIZE - 4096)
    with pytest.raises(statefile.StatefileCorrupt, match="4096-byte blocks has at least 266240"):
        statefile.read(path)
