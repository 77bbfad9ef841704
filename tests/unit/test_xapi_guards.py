"""Guards of the store's transactions: forget, the enable_ha plan, recovery, on a store without a server."""

import pytest

from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi import api, context, ha_steps, m_pbd, m_sr, plug, recovery
from sm_clusterstack.xapi import store as store_mod


def add_sr(ctx, sr_type="lvm"):
    """An SR of ``sr_type`` with a detached PBD on the master; (SR, PBD)."""
    ref = store_mod.new_ref()
    with ctx.store.write() as conn:
        store_mod.insert(conn, "SR", m_sr._sr_row(ref, store_mod.new_uuid(), "sr", "", sr_type, "user", True, {}))
        pbd = m_pbd.create_in(conn, context.master(conn), ref, {})
    return ref, pbd


def set_plan(ctx, plan):
    with ctx.store.write() as conn:
        store_mod.update(conn, "pool", context.pool_row(conn)["ref"], ha_plan=plan)


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


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "-1", "1" * 10, "", " 5"])
def test_ha_configuration_accepts_only_ascii_digits(value):
    with pytest.raises(XenAPIError) as e:
        ha_steps.parameters({"timeout": value})
    assert e.value.code == "INVALID_VALUE"


def test_ha_configuration_timeout_sets_both_timeouts():
    assert ha_steps.parameters({"timeout": "30"}) == {"HeartbeatTimeout": 30, "StateFileTimeout": 30}


@pytest.mark.parametrize("prefix", [
    "", "ip netns exec h2", "ip netns exec h2 env SM_CLUSTERSTACK_COROSYNC_DIR=/tmp/x", "env SHIM_HOST=h2",
    "ip netns exec ns-1.a env A=1 B_2='x y'", "env",
])
def test_exec_prefix_accepts_netns_and_env_forms(prefix):
    assert context.exec_prefix_problem(prefix) == ""


@pytest.mark.parametrize("prefix", [
    "sh -c 'touch /tmp/owned'", "ip netns exec", "ip netns exec h2 sh", "ip netns exec ../x",
    "env LD_PRELOAD=/tmp/x.so", "env PATH=/tmp", "env PYTHONPATH=/tmp", "env lower=1", "env A=1 /bin/sh",
    "env -i A=1", "ip netns exec h2 env A=1 touch /tmp/owned", "nsenter -t 1 -m", "'unbalanced",
    "ip link", "ip netns exec -h",
])
def test_exec_prefix_refuses_anything_else(prefix):
    assert context.exec_prefix_problem(prefix) != ""


def test_setting_a_refused_exec_prefix_is_invalid_value(ctx):
    session = login(ctx)
    with ctx.store.read() as conn:
        host = context.master(conn)
    for method, params in (("host.add_to_other_config", ("exec-prefix", "sh -c id")),
                           ("host.set_other_config", ({"exec-prefix": "env LD_PRELOAD=/x.so"},))):
        answer = api.dispatch(ctx, method, (session, host) + params)
        assert answer["ErrorDescription"][:2] == ["INVALID_VALUE", "exec-prefix"]
    assert api.dispatch(ctx, "host.add_to_other_config", (session, host, "exec-prefix", "env SHIM_HOST=h2"))[
        "Status"] == "Success"


def test_a_stored_refused_exec_prefix_is_never_run(ctx):
    with ctx.store.write() as conn:
        host = context.master(conn)
        store_mod.update(conn, "host", host, other_config={"exec-prefix": "sh -c id"})
        row = store_mod.row(conn, "host", host)
    with pytest.raises(XenAPIError) as e:
        context.exec_prefix(row)
    assert e.value.code == "HA_CONFIGURATION_INVALID" and "exec-prefix" in e.value.params[0]


def login(ctx):
    return api.dispatch(ctx, "session.login_with_password", ("root", "pw", "2.0", "unit"))["Value"]


def test_forget_refused_while_the_sr_is_being_created(ctx):
    sr, pbd = add_sr(ctx)
    with ctx.store.write() as conn:
        store_mod.update(conn, "SR", sr, creating=True)
    with pytest.raises(XenAPIError) as e:
        m_sr.forget(ctx, None, sr)
    assert e.value.code == "OPERATION_NOT_ALLOWED"
