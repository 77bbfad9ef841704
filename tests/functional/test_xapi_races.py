"""Operations racing a plug, and plug failures that may leave an SR attached.

Fixture drivers of helpers.shim sleep, fault or print garbage where a test
says; the shim itself is the real server.
"""

import os
import threading

from helpers.shim import Pool, calls, failure, introduce, wait_for


def in_background(call):
    result = {}

    def run():
        try:
            result["value"] = call()
        except Exception as e:
            result["error"] = e
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def commands(pool, sr_type):
    return [c[0] for c in calls(pool.ctl[sr_type])]


def test_plug_and_pbd_create_refused_while_sr_destroy_runs_sr_delete(pool):
    x = pool.x
    sr = introduce(pool, "ocfs2", "o")
    master_pbd, other_pbd = sorted(x.SR.get_PBDs(sr), key=lambda p: x.PBD.get_host(p) != pool.master())
    other_host = x.PBD.get_host(other_pbd)
    x.PBD.destroy(other_pbd)
    with pool.held("ocfs2", "sr_delete"):
        thread, result = in_background(lambda: pool.server.session().xenapi.SR.destroy(sr))
        wait_for(lambda: commands(pool, "ocfs2")[-1:] == ["sr_delete"])
        assert failure(x.PBD.plug, master_pbd)[0] == "OPERATION_NOT_ALLOWED"
        assert failure(x.PBD.create, {"host": other_host, "SR": sr})[0] == "OPERATION_NOT_ALLOWED"
    thread.join(30)
    assert "error" not in result
    assert sr not in x.SR.get_all() and x.PBD.get_all() == []
    assert "sr_attach" not in commands(pool, "ocfs2")


def test_failed_sr_delete_leaves_the_sr_detached_and_pluggable(pool):
    x = pool.x
    sr = introduce(pool, "ocfs2", "o")
    pool.inject("ocfs2", "fault", "sr_delete", 2)
    assert failure(x.SR.destroy, sr)[0] == "SR_BACKEND_FAILURE_2"
    for pbd in x.SR.get_PBDs(sr):
        x.PBD.plug(pbd)
        assert x.PBD.get_currently_attached(pbd) is True


def test_plug_refused_while_sr_create_runs_sr_create(pool):
    x = pool.x
    master = pool.master()
    with pool.held("ocfs2", "sr_create"):
        thread, result = in_background(lambda: pool.server.session().xenapi.SR.create(
            master, {"device": "/dev/fixture"}, "0", "o", "", "ocfs2", "user", True, {}))
        wait_for(lambda: commands(pool, "ocfs2")[-1:] == ["sr_create"])
        wait_for(lambda: x.PBD.get_all() != [])
        for pbd in x.PBD.get_all():
            assert failure(x.PBD.plug, pbd)[0] == "OPERATION_NOT_ALLOWED"
    thread.join(30)
    assert "error" not in result
    assert all(x.PBD.get_currently_attached(p) for p in x.PBD.get_all())


def test_sr_attach_with_garbage_output_is_detached_again(pool):
    sr = introduce(pool, "lvm", "l")
    pbd = pool.x.SR.get_PBDs(sr)[0]
    pool.inject("lvm", "garbage", "sr_attach", 1)
    assert failure(pool.x.PBD.plug, pbd)[0] == "SR_BACKEND_FAILURE"
    assert commands(pool, "lvm")[-2:] == ["sr_attach", "sr_detach"]
    assert pool.x.PBD.get_currently_attached(pbd) is False


def test_sr_attach_timing_out_is_detached_again(tmp_path):
    p = Pool(tmp_path, hosts=1)
    p.server.extra = ["--driver-timeout", "1"]
    p.start()
    try:
        sr = introduce(p, "lvm", "l")
        pbd = p.x.SR.get_PBDs(sr)[0]
        p.inject("lvm", "sleep", "sr_attach", 5)
        found = failure(p.x.PBD.plug, pbd)
        host = p.x.host.get_uuid(p.x.PBD.get_host(pbd))
        assert found[:2] == ["SR_BACKEND_FAILURE", "driver timed out on host %s" % host]
        assert commands(p, "lvm")[-2:] == ["sr_attach", "sr_detach"]
    finally:
        p.stop()


def test_sr_attach_answering_a_fault_is_not_detached(pool):
    sr = introduce(pool, "lvm", "l")
    pbd = pool.x.SR.get_PBDs(sr)[0]
    pool.inject("lvm", "fault", "sr_attach", 2)
    assert failure(pool.x.PBD.plug, pbd)[0] == "SR_BACKEND_FAILURE_2"
    assert commands(pool, "lvm")[-1] == "sr_attach"


def test_sr_destroy_interrupted_by_a_crash_leaves_the_sr_pluggable(pool):
    sr = introduce(pool, "ocfs2", "o")
    with pool.held("ocfs2", "sr_delete"):
        in_background(lambda: pool.server.session().xenapi.SR.destroy(sr))
        wait_for(lambda: commands(pool, "ocfs2")[-1:] == ["sr_delete"])
        pool.server.kill()
        pool.start()
    assert sr in pool.x.SR.get_all()
    assert commands(pool, "ocfs2")[-2:] == ["sr_detach", "sr_detach"]  # what sr_delete mounted is unmounted
    for pbd in pool.x.SR.get_PBDs(sr):
        pool.x.PBD.plug(pbd)
        assert pool.x.PBD.get_currently_attached(pbd) is True


def test_sr_destroy_applies_the_plug_rule_before_sr_delete_mounts_it(pool):
    x = pool.x
    melio = introduce(pool, "melio", "m")
    for pbd in x.SR.get_PBDs(melio):
        x.PBD.plug(pbd)
    ocfs2 = introduce(pool, "ocfs2", "o")
    assert failure(x.SR.destroy, ocfs2) == ["INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "corosync"]
    assert "sr_delete" not in commands(pool, "ocfs2")
    assert ocfs2 in x.SR.get_all() and not any(x.PBD.get_currently_attached(p) for p in x.SR.get_PBDs(ocfs2))
    for pbd in x.SR.get_PBDs(melio):
        x.PBD.unplug(pbd)
    x.SR.destroy(ocfs2)  # nothing attached constrains it now
    assert commands(pool, "ocfs2")[-1] == "sr_delete" and ocfs2 not in x.SR.get_all()


def test_sr_destroy_under_ha_on_another_stack_is_refused(pool):
    x = pool.x
    hb = pool.create_sr("melio")
    x.pool.enable_ha([hb], {})
    ocfs2 = introduce(pool, "ocfs2", "o")
    assert failure(x.SR.destroy, ocfs2) == ["INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "corosync"]
    assert "sr_delete" not in commands(pool, "ocfs2")


def test_sr_create_reserves_its_pbds_so_no_conflicting_plug_attaches_meanwhile(pool):
    """The rules are checked once, in SR.create's first transaction, which reserves the new PBDs."""
    x = pool.x
    melio_pbd = x.SR.get_PBDs(introduce(pool, "melio", "m"))[0]
    with pool.held("ocfs2", "sr_create"):
        thread, result = in_background(lambda: pool.server.session().xenapi.SR.create(
            pool.master(), {"device": "/dev/fixture"}, "0", "o", "", "ocfs2", "user", True, {}))
        wait_for(lambda: commands(pool, "ocfs2")[-1:] == ["sr_create"])
        assert failure(x.PBD.plug, melio_pbd) == ["INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "melio"]
    thread.join(30)
    assert "error" not in result, result
    assert all(x.PBD.get_currently_attached(p) for p in x.SR.get_PBDs(result["value"]))
    assert commands(pool, "melio").count("sr_attach") == 0


def test_sr_create_whose_plug_fails_returns_the_sr_with_the_pbd_detached(pool):
    """xapi_sr.ml create: once sr_create succeeded the SR exists; failing plugs do not fail the call."""
    pool.inject("lvm", "fault", "sr_attach", 2)
    sr = pool.create_sr("lvm")
    assert sr in pool.x.SR.get_all() and commands(pool, "lvm").count("sr_create") == 1
    pbds = pool.x.SR.get_PBDs(sr)
    assert len(pbds) == 2 and not any(pool.x.PBD.get_currently_attached(p) for p in pbds)
    os.unlink(os.path.join(pool.ctl["lvm"], "fault_sr_attach"))
    for pbd in pbds:
        pool.x.PBD.plug(pbd)  # a retry plugs: it never formats again
    assert commands(pool, "lvm").count("sr_create") == 1
