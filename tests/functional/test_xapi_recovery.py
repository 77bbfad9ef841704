"""Recovery after SIGKILL at known points: a plug in flight, an enable_ha half done.

Fixture drivers and stacks (helpers.shim) sleep where the test kills the
server, so the kill lands exactly inside the step named by each test.
"""

import os
import threading

import pytest

from helpers.shim import attached_markers, calls, delay_script, introduce, wait_for


pytestmark = pytest.mark.pool(kill=True)  # the tests kill the server themselves


def in_background(call):
    def swallow():
        try:
            call()
        except Exception:  # the server dies under it
            pass
    thread = threading.Thread(target=swallow, daemon=True)
    thread.start()
    return thread


def test_plug_in_flight_is_detached_after_restart(pool):
    sr = introduce(pool, "ocfs2", "o")
    pbd = pool.x.SR.get_PBDs(sr)[0]
    pool.inject("ocfs2", "sleep", "sr_attach", 10)
    in_background(lambda: pool.x.PBD.plug(pbd))
    wait_for(lambda: [c[0] for c in calls(pool.ctl["ocfs2"])][-1:] == ["sr_attach"])
    pool.server.kill()
    pool.start()
    assert pool.x.PBD.get_currently_attached(pbd) is False
    assert [c[0] for c in calls(pool.ctl["ocfs2"])][-1] == "sr_detach"
    pool.inject("ocfs2", "sleep", "sr_attach", 0)
    pool.x.PBD.plug(pbd)  # the reservation is gone: it plugs again
    assert pool.x.PBD.get_currently_attached(pbd) is True


def test_half_done_enable_ha_is_rolled_back_after_restart(pool):
    sr = pool.create_sr("ocfs2")
    delay_script(pool, "ha_start_daemon", 10)
    in_background(lambda: pool.x.pool.enable_ha([sr], {}))
    wait_for(lambda: [c[1] for c in pool.stack_calls()][-1:] == ["ha_start_daemon"])
    pool.server.kill()
    delay_script(pool, "ha_start_daemon", 0)
    pool.start()
    ref = pool.x.pool.get_all()[0]
    assert pool.x.pool.get_ha_enabled(ref) is False and pool.x.pool.get_ha_cluster_stack(ref) == "xhad"
    assert sorted(v["type"] for v in pool.x.VDI.get_all_records().values()) == ["ha_statefile", "redo_log"]
    assert [c[1] for c in pool.stack_calls()][-1] == "ha_stop_daemon"
    assert "vdi_detach" in [c[0] for c in calls(pool.ctl["ocfs2"])][-4:]  # released, kept for the next enable
    pool.x.pool.enable_ha([sr], {})  # nothing left half done: it can be enabled now
    assert pool.x.pool.get_ha_cluster_stack(ref) == "corosync"


def driver_runs(pool, sr_type, command):
    """The live processes of the fixture driver of ``sr_type`` running ``command``."""
    path = os.path.join(pool.sm_dir, sr_type.capitalize() + "SR").encode()
    method = b"<methodName>%s</methodName>" % command.encode()
    found = []
    for pid in (int(entry) for entry in os.listdir("/proc") if entry.isdigit()):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%d/stat" % pid) as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if path in argv and any(method in arg for arg in argv) and not zombie:
            found.append(pid)
    return found


def test_a_plug_in_flight_at_a_crash_is_ended_before_the_restart_detaches_it(pool):
    """The old sr_attach runs in its own process group: left alone it would complete after the
    reconcile's sr_detach, the SR attached while the store says detached."""
    sr = introduce(pool, "ocfs2", "o")
    pbd = pool.x.SR.get_PBDs(sr)[0]
    pool.inject("ocfs2", "sleep", "sr_attach", 600)  # it would still run long after the restart
    in_background(lambda: pool.x.PBD.plug(pbd))
    wait_for(lambda: [c[0] for c in calls(pool.ctl["ocfs2"])][-1:] == ["sr_attach"])
    wait_for(lambda: driver_runs(pool, "ocfs2", "sr_attach"))
    old = driver_runs(pool, "ocfs2", "sr_attach")
    pool.server.kill()
    os.unlink(os.path.join(pool.ctl["ocfs2"], "sleep_sr_attach"))
    pool.start()
    assert pool.x.PBD.get_currently_attached(pbd) is False
    assert [pid for pid in old if pid in driver_runs(pool, "ocfs2", "sr_attach")] == []  # ended, never to finish
    assert attached_markers(pool.ctl["ocfs2"]) == []
    with open(pool.server.log.name) as f:
        assert "left running by the previous instance" in f.read()
    pool.x.PBD.plug(pbd)
    assert attached_markers(pool.ctl["ocfs2"]) == ["%s@%s" % (pool.x.SR.get_uuid(sr), pool.x.PBD.get_host(pbd))]
