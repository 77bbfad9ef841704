"""Guards of the store's transactions: forget, the enable_ha plan, recovery, on a store without a server."""

import pytest

from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.methods import pbd as m_pbd
from sm_clusterstack.xapi.methods import sr as m_sr
from sm_clusterstack.xapi.hosts import plug
from sm_clusterstack.xapi import recovery
from sm_clusterstack.xapi.db import store as store_mod
from sm_clusterstack.xapi.db import records


def add_sr(ctx, sr_type="lvm"):
    """An SR of ``sr_type`` with a detached PBD on the master; (SR, PBD)."""
    ref = store_mod.new_ref()
    with ctx.store.write() as conn:
        store_mod.insert(conn, "SR", m_sr._sr_row(ref, store_mod.new_uuid(), "sr", "", sr_type, "user", True, {}))
        pbd = m_pbd.create_in(conn, records.master(conn), ref, {})
    return ref, pbd


def set_plan(ctx, plan):
    with ctx.store.write() as conn:
        store_mod.update(conn, "pool", records.pool_row(conn)["ref"], ha_plan=plan)


def test_no_plug_reservation_fits_between_forget_check_and_delete(ctx, monkeypatch):
    sr, pbd = add_sr(ctx)
    real_write = ctx.store.write
    opened, reserved = [], []

    def write():
        opened.append(True)
        if len(opened) > 1:  # a second transaction: a plug may run before it
            reserved.append(plug.reserve(ctx, pbd))
        return real_write()
    monkeypatch.setattr(ctx.store, "write", write)
    m_sr.forget(ctx, None, sr)
    assert reserved == []
    with ctx.store.read() as conn:
        assert store_mod.row(conn, "SR", sr) is None and store_mod.row(conn, "PBD", pbd) is None


def test_heartbeat_sr_is_protected_before_the_statefile_is_recorded(ctx):
    sr, pbd = add_sr(ctx)
    set_plan(ctx, {"stack": "corosync", "heartbeat_sr": sr, "statefiles": [], "attached_on": {},
                   "hosts_started": [], "configuration": {}, "generation": "g"})
    with ctx.store.read() as conn:
        with pytest.raises(XenAPIError) as e:
            plug.check_not_statefile_sr(conn, sr)
    assert e.value.code == "HA_IS_ENABLED"
    with pytest.raises(XenAPIError) as e:
        m_sr.forget(ctx, None, sr)
    assert e.value.code == "HA_IS_ENABLED"


def test_other_srs_stay_free_while_ha_is_being_enabled(ctx):
    sr, _ = add_sr(ctx)
    other, _ = add_sr(ctx)
    set_plan(ctx, {"stack": "corosync", "heartbeat_sr": sr, "statefiles": []})
    m_sr.forget(ctx, None, other)


def test_plug_refused_while_the_sr_is_being_created(ctx):
    sr, pbd = add_sr(ctx)
    with ctx.store.write() as conn:
        store_mod.update(conn, "SR", sr, creating=True)
    with pytest.raises(XenAPIError) as e:
        plug.reserve(ctx, pbd)
    assert e.value.code == "OPERATION_NOT_ALLOWED"


def test_recovery_detach_of_a_pbd_whose_sr_is_gone_does_not_raise(ctx):
    pbd = {"ref": store_mod.new_ref(), "SR": store_mod.new_ref(), "host": "OpaqueRef:NULL",
           "state": plug.PLUGGING, "device_config": "{}"}
    recovery._detach(ctx, pbd)


def test_recovery_puts_pbds_of_an_interrupted_destroy_back_to_detached(ctx):
    sr, pbd = add_sr(ctx)
    with ctx.store.write() as conn:
        plug.set_state(conn, pbd, plug.DESTROYING)
    done = recovery.reconcile(ctx)
    assert done["destroying"] == 1
    with ctx.store.read() as conn:
        row = store_mod.row(conn, "PBD", pbd)
    assert (row["state"], row["active"]) == ("detached", 0)
    assert plug.reserve(ctx, pbd) is not None


def test_forget_refused_while_the_sr_is_being_created(ctx):
    sr, pbd = add_sr(ctx)
    with ctx.store.write() as conn:
        store_mod.update(conn, "SR", sr, creating=True)
    with pytest.raises(XenAPIError) as e:
        m_sr.forget(ctx, None, sr)
    assert e.value.code == "OPERATION_NOT_ALLOWED"
