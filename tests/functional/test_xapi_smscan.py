"""The sm-dir scan at start: a driver failing sr_get_driver_info, with and without SRs of its type.

Fixture drivers of helpers.shim print garbage where a test says; the shim
is the real server, restarted on the same state directory.
"""

import pytest

from helpers.shim import failure, introduce


pytestmark = pytest.mark.pool(hosts=1)


def sm_types(pool):
    return sorted(r["type"] for r in pool.x.SM.get_all_records().values())


def restart(pool):
    pool.stop()
    pool.start()


def test_sm_record_of_a_failing_driver_with_attached_srs_is_kept_and_still_constrains(pool):
    ocfs2 = introduce(pool, "ocfs2", "o")
    pool.x.PBD.plug(pool.x.SR.get_PBDs(ocfs2)[0])
    pool.inject("ocfs2", "garbage", "sr_get_driver_info", 1)
    restart(pool)
    assert "ocfs2" in sm_types(pool)
    melio = introduce(pool, "melio", "m")
    details = failure(pool.x.PBD.plug, pool.x.SR.get_PBDs(melio)[0])
    assert details == ["INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "melio"]


def test_sm_record_of_a_failing_driver_without_srs_is_removed(pool):
    assert "lvm" in sm_types(pool)
    pool.inject("lvm", "garbage", "sr_get_driver_info", 1)
    restart(pool)
    assert "lvm" not in sm_types(pool)
