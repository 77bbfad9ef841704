"""Releasing the HA statefile: a VDI already deleted, a detach failing during a rollback.

Fixture drivers and stacks of shim_helpers fault where a test says; the
shim is the real server.
"""

import pytest

from shim_helpers import Pool, calls, failure


@pytest.fixture
def pool(tmp_path):
    p = Pool(tmp_path, hosts=2).start()
    yield p
    p.stop()


def ha_enabled(pool):
    return pool.x.pool.get_ha_enabled(pool.x.pool.get_all()[0])


def test_disable_ha_counts_a_statefile_the_driver_reports_missing_as_deleted(pool):
    sr = pool.create_sr("ocfs2")
    pool.x.pool.enable_ha([sr], {})
    pool.inject("ocfs2", "fault", "vdi_delete", 144)  # VDIMissing: deleted before a crash
    pool.x.pool.disable_ha()
    assert ha_enabled(pool) is False
    assert pool.x.VDI.get_all_records() == {}
    pool.x.pool.enable_ha([sr], {})  # not stuck on VDI_MISSING
    assert ha_enabled(pool) is True


def test_disable_ha_keeps_the_statefile_row_when_vdi_delete_fails(pool):
    sr = pool.create_sr("ocfs2")
    pool.x.pool.enable_ha([sr], {})
    pool.inject("ocfs2", "fault", "vdi_delete", 2)
    assert failure(pool.x.pool.disable_ha)[0] == "SR_BACKEND_FAILURE_2"
    assert len(pool.x.VDI.get_all_records()) == 1


def test_enable_ha_rollback_still_deletes_the_statefile_when_a_detach_fails(pool):
    sr = pool.create_sr("ocfs2")
    pool.fail_script("ha_start_daemon", 2)
    pool.inject("ocfs2", "fault", "vdi_detach", 2)
    assert failure(pool.x.pool.enable_ha, [sr], {})[0] == "HA_CONFIGURATION_INVALID"
    assert ha_enabled(pool) is False
    assert [c[0] for c in calls(pool.ctl["ocfs2"])][-3:] == ["vdi_detach", "vdi_detach", "vdi_delete"]
    assert pool.x.VDI.get_all_records() == {}
