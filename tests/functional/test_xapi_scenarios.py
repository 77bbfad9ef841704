"""The design's scenarios on the shim: stack choice, the four new errors, the disable path, xhad.conf.

Through the PyPI XenAPI client against `serve`; drivers and stacks are the
fixture doubles of helpers.shim (ocfs2 requires corosync, melio requires
melio, dual accepts either, lvm requires nothing; the melio stack's
ha_supported_srs lists melio only).
"""

import os
import threading

from helpers.shim import Pool, calls, failure, write_version_1_store
from sm_clusterstack.stacks import xhadconf


def ha(pool):
    ref = pool.x.pool.get_all()[0]
    return pool.x.pool.get_ha_enabled(ref), pool.x.pool.get_ha_cluster_stack(ref)


def test_ocfs2_sr_attached_makes_enable_ha_choose_corosync(pool):
    sr = pool.create_sr("ocfs2")
    pool.x.pool.enable_ha([sr], {})
    assert ha(pool) == (True, "corosync")
    assert {c[0] for c in pool.stack_calls()} == {"corosync"}


def test_no_constraint_chooses_xhad(pool):
    pool.x.pool.enable_ha([pool.create_sr("lvm")], {})
    assert ha(pool) == (True, "xhad")


def test_melio_sr_attached_and_other_heartbeat_sr_is_incompatible_statefile_sr(pool):
    pool.create_sr("melio")
    lvm = pool.create_sr("lvm")
    assert failure(pool.x.pool.enable_ha, [lvm], {}) == ["INCOMPATIBLE_STATEFILE_SR", "melio"]
    assert ha(pool) == (False, "xhad") and pool.stack_calls() == []


def test_melio_heartbeat_sr_is_accepted_for_melio(pool):
    sr = pool.create_sr("melio")
    pool.x.pool.enable_ha([sr], {})
    assert ha(pool) == (True, "melio")


def test_creating_ocfs2_sr_with_ha_on_xhad_is_incompatible_cluster_stack_active(pool):
    pool.x.pool.enable_ha([pool.create_sr("lvm")], {})
    assert failure(pool.create_sr, "ocfs2") == ["INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "corosync"]
    assert [r for r in pool.x.SR.get_all_records().values() if r["type"] == "ocfs2"] == []
    assert [c[0] for c in calls(pool.ctl["ocfs2"])] == ["sr_get_driver_info"]


def test_unknown_requested_stack(pool):
    sr = pool.create_sr("lvm")
    assert failure(pool.x.pool.enable_ha, [sr], {}, "foo") == ["UNKNOWN_CLUSTER_STACK", "foo"]
    assert failure(pool.x.pool.enable_ha, [sr], {}, "../xhad") == ["UNKNOWN_CLUSTER_STACK", "../xhad"]
    assert ha(pool) == (False, "xhad")


def test_requested_xhad_with_ocfs2_attached_is_cluster_stack_constraint(pool):
    ocfs2 = pool.create_sr("ocfs2")
    assert failure(pool.x.pool.enable_ha, [ocfs2], {}, "xhad") == ["CLUSTER_STACK_CONSTRAINT", ocfs2, "corosync"]
    assert ha(pool) == (False, "xhad")


def test_plug_refused_when_attached_srs_would_share_no_stack(pool):
    pool.create_sr("ocfs2")
    assert failure(pool.create_sr, "melio") == ["INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "melio"]
    pool.create_sr("dual")  # corosync or melio: compatible with the OCFS2 SR


def test_plug_refused_when_ha_runs_other_stack(pool):
    ocfs2 = pool.create_sr("ocfs2")
    pbds = pool.x.SR.get_PBDs(ocfs2)
    for pbd in pbds:
        pool.x.PBD.unplug(pbd)
    pool.x.pool.enable_ha([pool.create_sr("melio")], {})
    assert failure(pool.x.PBD.plug, pbds[0]) == ["INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "corosync"]
    assert pool.x.PBD.get_currently_attached(pbds[0]) is False


def test_failed_start_runs_the_disable_path_and_keeps_ha_cluster_stack(pool):
    """xapi_ha.ml ``enable``: a failed join runs disable_internal; every host is disarmed before any stops."""
    sr = pool.create_sr("lvm")
    pool.x.pool.enable_ha([sr], {}, "corosync")
    pool.x.pool.disable_ha()
    del_log = len(pool.stack_calls())
    other = [h for h in pool.x.host.get_all() if h != pool.master()][0]
    pool.fail_script("ha_start_daemon", 2, pool.x.host.get_uuid(other))
    details = failure(pool.x.pool.enable_ha, [sr], {}, "xhad")
    assert details[:4] == ["HA_CONFIGURATION_INVALID", "ha_start_daemon", "SYSTEM_ERROR", pool.x.host.get_uuid(other)]
    assert ha(pool) == (False, "corosync")
    run = pool.stack_calls()[del_log:]
    disarms = [float(c[-1][2:]) for c in run if c[1] == "ha_disarm_fencing"]
    stops = [float(c[-1][2:]) for c in run if c[1] == "ha_stop_daemon"]
    assert len(disarms) == len(stops) == 2 and max(disarms) < min(stops)
    kept = pool.x.VDI.get_all_records()
    assert sorted(v["type"] for v in kept.values()) == ["ha_statefile", "redo_log"]  # released, not deleted
    assert "vdi_delete" not in [c[0] for c in calls(pool.ctl["lvm"])]


def test_xhad_conf_per_host_lists_hosts_interfaces_and_derived_timeouts(pool):
    x = pool.x
    x.pool.enable_ha([pool.create_sr("lvm")], {"timeout": "20"})
    hosts = {x.host.get_uuid(h): x.host.get_address(h) for h in x.host.get_all()}
    for host in x.host.get_all():
        number = x.host.get_other_config(host)["sandbox-netns"].rsplit("-h", 1)[1]
        conf = xhadconf.load(os.path.join(pool.server.state, "sandbox", "hosts", "h" + number,
                                          "etc", "xensource", "xhad.conf"))
        assert {h.host_id: h.ip_address for h in conf.hosts} == hosts
        assert conf.local_host_id == x.host.get_uuid(host) and conf.udp_port == 694
        assert (conf.heartbeat_interface, conf.heartbeat_physical_interface) == ("xenbr0", "eth0")
        assert conf.parameters == xhadconf.derive_timeouts(20)


def test_unsafe_stack_is_refused_before_anything_runs(pool):
    os.chmod(os.path.join(pool.root, "xhad", "ha_start_daemon"), 0o777)
    details = failure(pool.x.pool.enable_ha, [pool.create_sr("lvm")], {})
    assert details[0] == "HA_CONFIGURATION_INVALID" and "group or world writable" in details[1]
    assert pool.stack_calls() == [] and ha(pool) == (False, "xhad")


def test_old_store_gets_ha_cluster_stack_xhad_on_upgrade(tmp_path):
    p = Pool(tmp_path, hosts=1)
    write_version_1_store(p.server.state)
    p.start()
    try:
        assert p.x.pool.get_ha_cluster_stack("OpaqueRef:p") == "xhad"
        assert p.x.host.get_all() == ["OpaqueRef:h"]
    finally:
        p.stop()


def test_disable_ha_retries_a_daemon_that_does_not_stop_until_it_does(pool):
    """xapi_ha.ml ``disable_internal``: "Suffered a partial failure ... Will try again"; done only when stopped."""
    pool.x.pool.enable_ha([pool.create_sr("lvm")], {})
    other = [h for h in pool.x.host.get_all() if h != pool.master()][0]
    pool.fail_script("ha_query_liveset", 3)  # no statefile access: the disarm-all, stop-all path
    pool.fail_script("ha_stop_daemon", 2, pool.x.host.get_uuid(other))
    fail_file = os.path.join(pool.stack_ctl, "fail_ha_stop_daemon")
    threading.Timer(2.0, os.unlink, [fail_file]).start()
    pool.x.pool.disable_ha()
    assert ha(pool) == (False, "xhad")
    where = "host=" + pool.x.host.get_uuid(other)
    stops = [c for c in pool.stack_calls() if c[1] == "ha_stop_daemon" and c[-2] == where]
    assert len(stops) >= 2
