"""The attach-time exclusion check, against a recording XenAPI server on a unix socket."""

import socket
import subprocess
import threading

import pytest

from helpers.drivers import blank_file, emulated_calls, environment, loop_device, new_uuid, run, unmount_under
from helpers.xapi_recorder import SESSION, PoolRecords, RecordingXapi

INCOMPATIBLE, POOL_UNREACHABLE, MALFORMED = 605, 606, 600
SNAPSHOT_CALLS = ["pool.get_all_records", "PBD.get_all_records_where", "SR.get_all_records",
                  "SM.get_all_records"]


@pytest.fixture
def blank_device(tmp_path):
    """A file standing for a device with nothing on it (the check runs before any tool)."""
    return blank_file(tmp_path, "blank.img", 64)


@pytest.fixture
def teardown_mounts(tmp_path):
    yield
    unmount_under(tmp_path)


def serve(tmp_path, records):
    return RecordingXapi(str(tmp_path / "xapi.sock"), records)


def attach(driver, env, device, sr_uuid=None, sr_ref="OpaqueRef:0d0d0000-0000-4000-8000-000000000001"):
    return run(driver, "sr_attach", env, device_config={"device": device, "SRmaster": "true"},
               session_ref=SESSION, sr_ref=sr_ref, sr_uuid=sr_uuid or new_uuid())


def pool_with_attached(sr_type, hosts=1, srs_of_other_types=0):
    records = PoolRecords()
    host_refs = records.add_hosts(hosts)
    records.add_sr(sr_type, attached_on=host_refs)
    for i in range(srs_of_other_types):
        records.add_sr(("nfs", "lvm")[i % 2], attached_on=host_refs[i % hosts:i % hosts + 1],
                       detached_on=host_refs[:1])
    return records


def test_ocfs2_attach_refused_when_ha_runs_xhad(tmp_path, blank_device):
    records = PoolRecords(ha_enabled=True, ha_cluster_stack="xhad")
    with serve(tmp_path, records) as xapi:
        answer = attach("OCFS2SR", environment(tmp_path, xapi=xapi.path), blank_device)
    assert answer.code == INCOMPATIBLE
    assert answer.reason.endswith("[corosync-ha]")
    assert xapi.calls == SNAPSHOT_CALLS


def test_ocfs2_create_refused_when_ha_runs_xhad_leaves_device_untouched(tmp_path, blank_device):
    records = PoolRecords(ha_enabled=True, ha_cluster_stack="xhad")
    with serve(tmp_path, records) as xapi:
        answer = run("OCFS2SR", "sr_create", environment(tmp_path, xapi=xapi.path), args=["0"],
                     device_config={"device": blank_device}, session_ref=SESSION,
                     sr_ref="OpaqueRef:0d0d0000-0000-4000-8000-000000000002", sr_uuid=new_uuid())
    assert answer.code == INCOMPATIBLE and answer.reason.endswith("[corosync-ha]")
    blkid = subprocess.run(["blkid", "-p", blank_device], stdout=subprocess.PIPE)
    assert blkid.returncode == 2  # no signature: mkfs.ocfs2 never ran


def test_melio_attach_refused_while_an_ocfs2_sr_is_attached(tmp_path, blank_device):
    with serve(tmp_path, pool_with_attached("ocfs2")) as xapi:
        answer = attach("MelioSR", environment(tmp_path, xapi=xapi.path), blank_device)
    assert answer.code == INCOMPATIBLE
    assert answer.reason.endswith("[melio]")


def test_on_stock_xapi_the_sibling_driver_tells_what_an_attached_sr_requires(tmp_path, blank_device):
    records = PoolRecords(sm_has_stack_field=False)  # stock xapi: no SM.required_cluster_stack
    hosts = records.add_hosts(2)
    records.add_sr("ocfs2", attached_on=hosts)
    with serve(tmp_path, records) as xapi:
        answer = attach("MelioSR", environment(tmp_path, xapi=xapi.path), blank_device)
    assert answer.code == INCOMPATIBLE and answer.reason.endswith("[melio]")
    assert xapi.calls == SNAPSHOT_CALLS  # OCFS2SR beside MelioSR answered, not the pool


def test_ocfs2_attach_refused_while_a_melio_sr_is_attached(tmp_path, blank_device):
    with serve(tmp_path, pool_with_attached("melio")) as xapi:
        answer = attach("OCFS2SR", environment(tmp_path, xapi=xapi.path), blank_device)
    assert answer.code == INCOMPATIBLE and answer.reason.endswith("[corosync-ha]")


def test_detached_melio_sr_does_not_constrain(tmp_path, blank_device):
    records = PoolRecords()
    hosts = records.add_hosts(2)
    records.add_sr("melio", detached_on=hosts)
    with serve(tmp_path, records) as xapi:
        answer = attach("OCFS2SR", environment(tmp_path, xapi=xapi.path), blank_device)
    # allowed by the pool: the attach goes on to the device, which holds no OCFS2
    assert answer.code == 607, answer.reason


def test_ocfs2_attach_allowed_while_another_ocfs2_sr_is_attached(tmp_path, teardown_mounts):
    """Emulated: ``mount -t ocfs2`` and ``umount`` (no ocfs2 kernel module here); mkfs.ocfs2 and
    tunefs.ocfs2 are real, on a loop device."""
    sr_uuid = new_uuid()
    with loop_device(tmp_path, 128) as device:
        with serve(tmp_path, PoolRecords()) as xapi:
            env = environment(tmp_path, emulators=True, xapi=xapi.path)
            created = run("OCFS2SR", "sr_create", env, args=["0"], device_config={"device": device},
                          session_ref=SESSION, sr_ref="OpaqueRef:0d0d0000-0000-4000-8000-000000000003",
                          sr_uuid=sr_uuid)
            assert created.fault is None, created.reason
        with serve(tmp_path, pool_with_attached("ocfs2")) as xapi:
            env = environment(tmp_path, emulators=True, xapi=xapi.path)
            answer = attach("OCFS2SR", env, device, sr_uuid)
            assert answer.fault is None, answer.reason
            assert run("OCFS2SR", "sr_detach", env, device_config={"device": device},
                       session_ref=SESSION, sr_uuid=sr_uuid).fault is None
    assert [c[1:4] for c in emulated_calls(tmp_path, "mount")] == [["-t", "ocfs2", device]]


def test_ocfs2_attach_allowed_when_ha_runs_corosync_ha(tmp_path, blank_device):
    records = PoolRecords(ha_enabled=True, ha_cluster_stack="corosync-ha")
    with serve(tmp_path, records) as xapi:
        answer = attach("OCFS2SR", environment(tmp_path, xapi=xapi.path), blank_device)
    assert answer.code == 607  # allowed by the pool; the blank device then holds no SR


def test_lvm_attach_allowed_while_an_ocfs2_sr_is_attached_without_asking_the_pool(tmp_path):
    """Real pvcreate/vgcreate/pvs on a loop device; nothing emulated."""
    sr_uuid = new_uuid()
    with loop_device(tmp_path, 64) as device:
        with serve(tmp_path, pool_with_attached("ocfs2")) as xapi:
            env = environment(tmp_path, xapi=xapi.path)
            try:
                created = run("LVMSR", "sr_create", env, args=["0"], device_config={"device": device},
                              session_ref=SESSION, sr_uuid=sr_uuid)
                assert created.fault is None, created.reason
                answer = attach("LVMSR", env, device, sr_uuid)
                assert answer.fault is None, answer.reason
            finally:
                run("LVMSR", "sr_delete", env, device_config={"device": device}, session_ref=SESSION,
                    sr_uuid=sr_uuid)
    assert xapi.calls == []  # an SR that requires no stack has nothing to ask


def test_round_trips_are_the_same_for_1_host_and_64_hosts_with_1000_srs(tmp_path, blank_device):
    counts = []
    for hosts, srs in ((1, 0), (64, 999)):
        with serve(tmp_path, pool_with_attached("ocfs2", hosts, srs)) as xapi:
            answer = attach("MelioSR", environment(tmp_path, xapi=xapi.path), blank_device)
        assert answer.code == INCOMPATIBLE
        counts.append(len(xapi.calls))
    assert counts == [len(SNAPSHOT_CALLS)] * 2


def test_pool_is_reached_over_http_too(tmp_path, blank_device):
    with RecordingXapi(None, pool_with_attached("ocfs2")) as xapi:
        answer = attach("MelioSR", environment(tmp_path, xapi=xapi.path), blank_device)
    assert xapi.path.startswith("http://127.0.0.1:")
    assert answer.code == INCOMPATIBLE and xapi.calls == SNAPSHOT_CALLS


def test_unreachable_pool_is_a_fault(tmp_path, blank_device):
    env = environment(tmp_path, xapi=str(tmp_path / "no-such.sock"))
    answer = attach("OCFS2SR", env, blank_device)
    assert answer.code == POOL_UNREACHABLE
    assert "no-such.sock" in answer.reason or "No such file" in answer.reason


def test_silent_pool_is_a_fault_after_the_timeout_not_a_hang(tmp_path, blank_device):
    path = str(tmp_path / "silent.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    try:
        env = environment(tmp_path, xapi=path, extra={"SM_CLUSTERSTACK_XAPI_TIMEOUT": "1"})
        answer = attach("OCFS2SR", env, blank_device)
    finally:
        listener.close()
    assert answer.code == POOL_UNREACHABLE
    assert "timed out" in answer.reason


@pytest.mark.parametrize("endpoint,timeout", [
    ("http://[::1", "5"), ("https://[::1", "5"), ("http://127.0.0.1:99999/", "5"), ("http://:8080/", "5"),
    ("SOCKET", "inf"), ("SOCKET", "nan"), ("SOCKET", "-1"), ("SOCKET", "0"), ("SOCKET", "lots"),
])
def test_malformed_endpoint_settings_are_a_pool_unreachable_fault_naming_them(
        tmp_path, blank_device, endpoint, timeout):
    with serve(tmp_path, PoolRecords()) as xapi:
        env = environment(tmp_path, xapi=xapi.path if endpoint == "SOCKET" else endpoint,
                          extra={"SM_CLUSTERSTACK_XAPI_TIMEOUT": timeout})
        answer = attach("OCFS2SR", env, blank_device)
    assert answer.code == POOL_UNREACHABLE, answer.reason
    variable = "SM_CLUSTERSTACK_XAPI_TIMEOUT" if endpoint == "SOCKET" else "SM_CLUSTERSTACK_XAPI="
    assert variable in answer.reason
    assert "Traceback" not in answer.stdout + answer.stderr and xapi.calls == []


def test_invalid_session_is_a_fault(tmp_path, blank_device):
    with serve(tmp_path, PoolRecords()) as xapi:
        answer = run("OCFS2SR", "sr_attach", environment(tmp_path, xapi=xapi.path),
                     device_config={"device": blank_device}, session_ref="OpaqueRef:not-a-session",
                     sr_uuid=new_uuid())
    assert answer.code == POOL_UNREACHABLE


def test_attach_without_session_ref_is_malformed(tmp_path, blank_device):
    answer = run("OCFS2SR", "sr_attach", environment(tmp_path), device_config={"device": blank_device},
                 sr_uuid=new_uuid())
    assert answer.code == MALFORMED and "session_ref" in answer.reason


def test_ocfs2_delete_refused_while_a_melio_sr_is_attached_mounts_nothing(tmp_path, blank_device):
    """sr_delete mounts the volume to look for VDIs: it is an attach, checked as one."""
    with serve(tmp_path, pool_with_attached("melio")) as xapi:
        answer = run("OCFS2SR", "sr_delete", environment(tmp_path, emulators=True, xapi=xapi.path),
                     device_config={"device": blank_device}, session_ref=SESSION,
                     sr_ref="OpaqueRef:0d0d0000-0000-4000-8000-000000000003", sr_uuid=new_uuid())
    assert answer.code == INCOMPATIBLE and answer.reason.endswith("[corosync-ha]")
    assert xapi.calls == SNAPSHOT_CALLS and emulated_calls(tmp_path) == []
