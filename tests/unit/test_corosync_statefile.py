"""The statefile format, its corruption checks, its locked updates and the hosts' slots."""

import os
import threading

import pytest

from sm_clusterstack.corostack import blocklayout, hostslot, slotio, statefile
from sm_clusterstack.corostack.statefile import PoolState
from sm_clusterstack.stacks.xhadconf import Host, XhadConfig

GEN = "5b3f1a9e-7c2d-4e8f-9a0b-1c2d3e4f5a6b"
H1, H2 = "8f1c2a34-0000-4000-8000-000000000001", "8f1c2a34-0000-4000-8000-000000000002"


def test_state_round_trips_through_one_block():
    state = PoolState(GEN.upper(), "active", H1, [H2, H2])
    data = statefile.encode(state)
    assert len(data) == statefile.BLOCK
    assert statefile.decode(data) == PoolState(GEN, "active", H1, [H2])


def test_blank_statefile_is_none_not_corrupt():
    assert statefile.decode(b"") is None
    assert statefile.decode(b"\0" * (4 * 1024 * 1024)) is None


def test_random_bytes_are_corrupt():
    with pytest.raises(statefile.StatefileCorrupt, match="no valid header"):
        statefile.decode(b"random bytes".ljust(4096, b"x"))


def test_bytes_after_the_first_block_are_ignored():
    data = statefile.encode(PoolState(GEN)) + b"\xff" * 100
    assert statefile.decode(data) == PoolState(GEN)


def _with_payload(payload):
    """A well checksummed block 0 holding ``payload`` (bytes) as its JSON."""
    import hashlib
    body = blocklayout.HEAD.pack(statefile.MAGIC, 2, 4096, 0, 1, len(payload)) + payload
    body += b"\0" * (4096 - 32 - len(body))
    return body + hashlib.sha256(body).digest()


@pytest.mark.parametrize("payload, says", [
    (b"not json", "not JSON"),
    (b"[1]", "not a record"),
    (b'{"generation": "x", "pool_state": "init", "master": "", "excluded": []}', "generation"),
    (('{"generation": "%s", "pool_state": "on", "master": "", "excluded": []}' % GEN).encode(), "pool_state"),
    (('{"generation": "%s", "pool_state": "init", "master": "", "excluded": ["a"]}' % GEN).encode(), "excluded"),
])
def test_well_checksummed_but_invalid_payload_is_corrupt(payload, says):
    with pytest.raises(statefile.StatefileCorrupt, match=says):
        statefile.decode(_with_payload(payload))


def test_update_reads_changes_and_writes(tmp_path):
    path = attached_vdi(tmp_path)
    statefile.initialise(path, PoolState(GEN))

    def change(old):
        old.master = H1
        return old
    statefile.update(path, change)
    assert statefile.read(path) == PoolState(GEN, master=H1)


def test_failed_change_leaves_the_statefile_as_it_was(tmp_path):
    path = attached_vdi(tmp_path)
    statefile.initialise(path, PoolState(GEN))

    def refuse(old):
        raise RuntimeError("no")
    with pytest.raises(RuntimeError):
        statefile.update(path, refuse)
    assert statefile.read(path) == PoolState(GEN)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sf"]  # written in place: no temporary files


def attached_vdi(tmp_path):
    """A blank raw VDI, as xapi attaches it for the statefile (a file here)."""
    path = str(tmp_path / "sf")
    with open(path, "wb") as f:
        f.truncate(statefile.SIZE)
    return path


def test_statefile_not_attached_is_never_created(tmp_path):
    """Each host creating its own private file would silently split the pool's state."""
    path = str(tmp_path / "absent")
    with pytest.raises(statefile.StatefileError, match="No such file"):
        statefile.initialise(path, PoolState(GEN))
    assert not (tmp_path / "absent").exists()


def test_missing_statefile_is_an_access_error(tmp_path):
    with pytest.raises(statefile.StatefileError, match="No such file"):
        statefile.read(str(tmp_path / "absent"))


def test_concurrent_writers_lose_no_update(tmp_path):
    path = attached_vdi(tmp_path)
    statefile.initialise(path, PoolState(GEN))
    hosts = ["8f1c2a34-0000-4000-8000-%012d" % i for i in range(16)]

    def exclude(host_id):
        def change(old):
            old.excluded.append(host_id)
            return old
        statefile.update(path, change)
    threads = [threading.Thread(target=exclude, args=(h,)) for h in hosts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statefile.read(path).excluded == sorted(hosts)


def test_the_statefile_is_xapis_size_one_pool_block_and_64_host_slots():
    assert statefile.SIZE == 266240 == 4096 + 64 * 4096


@pytest.mark.parametrize("size", [0, 4096, statefile.SIZE - 1])
def test_a_statefile_of_the_wrong_size_is_invalid(tmp_path, size):
    path = str(tmp_path / "sf")
    with open(path, "wb") as f:
        f.truncate(size)
    with pytest.raises(statefile.StatefileCorrupt, match="at least 266240"):
        statefile.read(path)


def test_init_blanks_every_host_slot_and_keeps_the_rest_of_the_file(tmp_path):
    path = attached_vdi(tmp_path)
    with open(path, "r+b") as f:
        f.write(b"\xff" * statefile.SIZE)
    statefile.initialise(path, PoolState(GEN))
    with open(path, "rb") as f:
        data = f.read()
    assert data[statefile.BLOCK:statefile.SIZE] == b"\0" * (64 * statefile.BLOCK)
    assert statefile.read(path) == PoolState(GEN)


def pool_conf(path, n=3, local=0):
    hosts = [Host("8f1c2a34-0000-4000-8000-00000000000%d" % i, "10.0.0.%d" % i) for i in range(n, 0, -1)]
    return XhadConfig(GEN, hosts, hosts[local].host_id, path)


def test_each_host_writes_its_own_slot_in_hostid_order(tmp_path):
    path = attached_vdi(tmp_path)
    statefile.initialise(path, PoolState(GEN))
    conf = pool_conf(path)
    assert sorted(hostslot.indexes(conf).values()) == [1, 2, 3]
    assert hostslot.indexes(conf)[H1] == 1
    with statefile.opened(path, write=True) as fd:
        hostslot.write(fd, conf, hostslot.Slot(GEN, H1, 5, "online", [H1, H2], link_up=False))
        hostslot.write(fd, conf, hostslot.Slot(GEN, H2, 9, "fencing", [H2]))
        slots = hostslot.read_all(fd, conf)
    assert slots[H1] == hostslot.Slot(GEN, H1, 5, "online", [H2, H1], False)
    assert slots[H2].state == "fencing" and slots["8f1c2a34-0000-4000-8000-000000000003"] is None
    assert statefile.read(path) == PoolState(GEN)  # the pool record is untouched


def test_a_slot_of_another_generation_or_host_or_torn_reads_as_none_and_says_why(tmp_path):
    path = attached_vdi(tmp_path)
    statefile.initialise(path, PoolState(GEN))
    conf = pool_conf(path)
    other_gen = "00000000-7c2d-4e8f-9a0b-1c2d3e4f5a6b"
    damaged = {}
    with statefile.opened(path, write=True) as handle:
        statefile.write_block(handle, 1, hostslot.encode(hostslot.Slot(other_gen, H1, 1, "online"), 1, 1))
        statefile.write_block(handle, 2, hostslot.encode(hostslot.Slot(GEN, H1, 1, "online"), 2, 1))
        torn = hostslot.encode(hostslot.Slot(GEN, H1, 1, "online"), 3, 1).replace(b"online", b"onl\0\0\0")
        statefile.write_block(handle, 3, torn)
        assert set(hostslot.read_all(handle, conf, damaged).values()) == {None}
    assert list(damaged) == ["8f1c2a34-0000-4000-8000-000000000003"] and "checksum" in damaged[
        "8f1c2a34-0000-4000-8000-000000000003"]


def test_a_statefile_thread_keeps_its_descriptors_from_the_processes_the_monitor_starts(tmp_path):
    """A descriptor the I/O thread opens is not in the monitor's table: a child the monitor forks never
    inherits the statefile (closing it before exec waited on a stalled FUSE path, and Popen with it)."""
    path = str(tmp_path / "statefile")
    open(path, "w").close()
    seen = {}

    def thread():
        seen["private"] = slotio.private_fd_table()
        seen["fd"] = os.open(path, os.O_RDONLY)
        seen["there"] = os.fstat(seen["fd"]).st_ino
    worker = threading.Thread(target=thread)
    worker.start()
    worker.join(10)
    assert seen["private"] is True and seen["there"] == os.stat(path).st_ino
    try:
        mine = os.fstat(seen["fd"]).st_ino  # the same number in this thread's table: something else, or nothing
    except OSError:
        mine = None
    assert mine != seen["there"]
