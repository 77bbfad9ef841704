"""The dispatcher (arity, types, sessions) and the plug check, on a store without a server."""

import pytest

from sm_clusterstack.errors import XenAPIError
from sm_clusterstack.xapi.rpc import dispatch as api
from sm_clusterstack.xapi.rpc import context
from sm_clusterstack.xapi.hosts import plug
from sm_clusterstack.xapi.rpc import sessions
from sm_clusterstack.xapi.db import store
from sm_clusterstack.xapi.db import records


def call(ctx, name, *params):
    return api.dispatch(ctx, name, params)


def login(ctx):
    return call(ctx, "session.login_with_password", "root", "pw", "2.0", "unit")["Value"]


def test_login_and_session_check(ctx, monkeypatch):
    monkeypatch.setattr(sessions, "FAILED_LOGIN_DELAY", 0)
    assert call(ctx, "session.login_with_password", "root", "no")["ErrorDescription"] == [
        "SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"]
    session = login(ctx)
    assert call(ctx, "pool.get_all", session)["Status"] == "Success"
    call(ctx, "session.logout", session)
    assert call(ctx, "pool.get_all", session)["ErrorDescription"] == ["SESSION_INVALID", session]


def test_unknown_method_and_arity(ctx):
    session = login(ctx)
    assert call(ctx, "VM.start", session)["ErrorDescription"] == ["MESSAGE_METHOD_UNKNOWN", "VM.start"]
    assert call(ctx, "pool.enable_ha", session, [])["ErrorDescription"] == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH", "pool.enable_ha", "4", "2"]
    assert call(ctx, "pool.enable_ha", session, [], {}, "", "x")["ErrorDescription"][3] == "5"


def test_type_errors_name_the_parameter(ctx):
    session = login(ctx)
    assert call(ctx, "pool.enable_ha", session, "notalist", {})["ErrorDescription"] == [
        "FIELD_TYPE_ERROR", "heartbeat_srs"]
    assert call(ctx, "host.set_other_config", session, "OpaqueRef:x", {"a": 1})["ErrorDescription"] == [
        "FIELD_TYPE_ERROR", "value"]


def test_async_of_a_getter_is_unknown_as_in_xapi(ctx):
    assert call(ctx, "Async.pool.get_all", login(ctx))["ErrorDescription"] == [
        "MESSAGE_METHOD_UNKNOWN", "Async.pool.get_all"]


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "1.5", "", "-", "9223372036854775808",
                                   "-9223372036854775809", "1" * 40, 1 << 63, True])
def test_int_parameters_are_ascii_int64_or_field_type_error(ctx, value):
    session = login(ctx)
    assert call(ctx, "SR.set_physical_size", session, "OpaqueRef:x", value)["ErrorDescription"] == [
        "FIELD_TYPE_ERROR", "value"]


@pytest.mark.parametrize("value", ["9223372036854775807", "-9223372036854775808", "0", 7])
def test_int_parameters_accept_the_int64_range(value):
    api.check_type("value", "int", value)


def add_sm(conn, sr_type, stacks):
    store.insert(conn, "SM", {
        "ref": store.new_ref(), "uuid": store.new_uuid(), "type": sr_type, "name_label": sr_type,
        "name_description": "", "vendor": "", "copyright": "", "version": "1", "required_api_version": "1.0",
        "capabilities": [], "features": {}, "configuration": {}, "driver_filename": "/x",
        "required_cluster_stack": stacks})


def add_sr(conn, sr_type, state):
    sr = store.new_ref()
    store.insert(conn, "SR", {"ref": sr, "uuid": store.new_uuid(), "type": sr_type, "name_label": sr_type,
                              "name_description": "", "content_type": "", "shared": True})
    host = records.master(conn)
    store.insert(conn, "PBD", {"ref": store.new_ref(), "uuid": store.new_uuid(), "host": host, "SR": sr,
                               "sr_type": sr_type, "state": state, "active": state != plug.DETACHED})
    return sr


def test_plug_in_progress_counts_as_attached(ctx):
    with ctx.store.write() as conn:
        add_sm(conn, "ocfs2", ["corosync"])
        add_sm(conn, "melio", ["melio"])
        add_sr(conn, "ocfs2", plug.PLUGGING)
        melio = add_sr(conn, "melio", plug.DETACHED)
        with pytest.raises(XenAPIError) as e:
            plug.check(conn, melio, "melio")
    assert e.value.description == ["INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "melio"]


def test_detached_srs_do_not_constrain(ctx):
    with ctx.store.write() as conn:
        add_sm(conn, "ocfs2", ["corosync"])
        add_sm(conn, "melio", ["melio"])
        add_sr(conn, "ocfs2", plug.DETACHED)
        plug.check(conn, add_sr(conn, "melio", plug.DETACHED), "melio")


def test_enable_ha_in_progress_counts_as_ha_on_its_stack(ctx):
    with ctx.store.write() as conn:
        add_sm(conn, "ocfs2", ["corosync"])
        conn.execute("UPDATE pool SET ha_plan = ?", (store.dumps({"stack": "xhad"}),))
        with pytest.raises(XenAPIError) as e:
            plug.check(conn, add_sr(conn, "ocfs2", plug.DETACHED), "ocfs2")
    assert e.value.description == ["INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "corosync"]


def test_check_reads_one_representative_per_constrained_type(ctx):
    with ctx.store.write() as conn:
        add_sm(conn, "ocfs2", ["corosync"])
        add_sm(conn, "lvm", [])
        refs = sorted(add_sr(conn, "ocfs2", plug.ATTACHED) for _ in range(5))
        add_sr(conn, "lvm", plug.ATTACHED)
        found = plug.active_constrained(conn)
    assert [(sr.ref, sr.required_cluster_stack) for sr in found] == [(refs[0], ("corosync",))]


def test_login_beyond_the_session_limit_ends_the_least_recently_used(ctx, monkeypatch):
    monkeypatch.setattr(sessions, "MAX_PER_ORIGINATOR", 3)
    made = [login(ctx) for _ in range(3)]
    assert call(ctx, "pool.get_all", made[0])["Status"] == "Success"  # the oldest, but used last
    made.append(login(ctx))
    assert call(ctx, "pool.get_all", made[1])["ErrorDescription"] == ["SESSION_INVALID", made[1]]
    assert all(call(ctx, "pool.get_all", s)["Status"] == "Success" for s in (made[0], made[2], made[3]))


def test_sessions_are_counted_per_originator(ctx, monkeypatch):
    monkeypatch.setattr(sessions, "MAX_PER_ORIGINATOR", 2)
    mine = call(ctx, "session.login_with_password", "root", "pw", "2.0", "mine")["Value"]
    for _ in range(5):
        login(ctx)
    assert call(ctx, "pool.get_all", mine)["Status"] == "Success"


def test_a_session_unused_for_a_day_is_gone(ctx, monkeypatch):
    session = login(ctx)
    with ctx.store.write() as conn:
        conn.execute("UPDATE session SET last_active = last_active - ?", (sessions.INACTIVE_TIMEOUT + 1,))
    ctx.sessions = context.sessions.Sessions(ctx.store)  # nothing recorded in memory either
    assert call(ctx, "pool.get_all", session)["ErrorDescription"] == ["SESSION_INVALID", session]
