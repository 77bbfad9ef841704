"""Releasing the HA statefile and metadata VDIs: detached on every host, kept for the next enable.

xapi never deletes them (``xapi_ha.ml`` ``enable``: "We don't destroy the
statefile VDIs, preferring to leave these around for the next time enable
is called"; ``disable_internal`` releases the resources on each host).
Fixture drivers and stacks of helpers.shim fault where a test says; the
shim is the real server.
"""

from helpers.shim import calls, failure


def ha_enabled(pool):
    return pool.x.pool.get_ha_enabled(pool.x.pool.get_all()[0])


def test_disable_ha_detaches_both_vdis_on_every_host_and_keeps_them(pool):
    sr = pool.create_sr("ocfs2")
    pool.x.pool.enable_ha([sr], {})
    vdis = set(pool.x.VDI.get_all())
    before = len(calls(pool.ctl["ocfs2"]))
    pool.x.pool.disable_ha()
    assert ha_enabled(pool) is False
    done = [c[0] for c in calls(pool.ctl["ocfs2"])[before:]]
    assert done.count("vdi_detach") == 4 and "vdi_delete" not in done
    assert set(pool.x.VDI.get_all()) == vdis


def test_a_detach_failing_at_disable_is_logged_and_disable_completes(pool):
    sr = pool.create_sr("ocfs2")
    pool.x.pool.enable_ha([sr], {})
    pool.inject("ocfs2", "fault", "vdi_detach", 2)
    pool.x.pool.disable_ha()
    assert ha_enabled(pool) is False
    pool.x.pool.enable_ha([sr], {})  # the kept VDIs are reused
    assert ha_enabled(pool) is True


def test_enable_ha_disable_path_completes_when_a_detach_fails(pool):
    sr = pool.create_sr("ocfs2")
    pool.fail_script("ha_start_daemon", 2)
    pool.inject("ocfs2", "fault", "vdi_detach", 2)
    assert failure(pool.x.pool.enable_ha, [sr], {})[0] == "HA_CONFIGURATION_INVALID"
    assert ha_enabled(pool) is False
    assert "vdi_detach" in [c[0] for c in calls(pool.ctl["ocfs2"])]
    assert sorted(v["type"] for v in pool.x.VDI.get_all_records().values()) == ["ha_statefile", "redo_log"]
