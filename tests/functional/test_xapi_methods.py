"""The shim's XenAPI methods and errors, through the PyPI XenAPI client against `serve`.

Drivers and stacks are the fixture doubles of helpers.shim (sh scripts that
record their calls); nothing of the shim itself is replaced.
"""

import time
import xmlrpc.client

import pytest
import XenAPI

from helpers.shim import calls, failure, introduce


def raw(pool, method, *params):
    """A call through plain xmlrpc (no retry on SESSION_INVALID)."""
    return getattr(xmlrpc.client.ServerProxy(pool.server.url, allow_none=True), method)(*params)


def test_login_with_wrong_password_is_authentication_failed_after_xapis_delay(readonly_pool):
    """xapi_session.ml thread_delay_and_raise_error: a failed login answers after 5 s."""
    pool = readonly_pool
    session = XenAPI.Session(pool.server.url)
    started = time.monotonic()
    with pytest.raises(XenAPI.Failure) as e:
        session.login_with_password("root", "wrong", "2.0", "tests")
    assert e.value.details == ["SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"]
    assert time.monotonic() - started >= 5.0  # the throttle itself, not a performance figure


def test_a_session_in_use_outlives_500_later_logins(pool):
    """db_gc_util.ml timeout_sessions: beyond 500 per originator, the least recently *used* go."""
    mine = XenAPI.Session(pool.server.url)
    mine.login_with_password("root", "secret", "2.0", "busy")
    idle = XenAPI.Session(pool.server.url)
    idle.login_with_password("root", "secret", "2.0", "busy")
    for number in range(510):
        raw(pool, "session.login_with_password", "root", "secret", "2.0", "busy")
        if number % 100 == 0:
            assert raw(pool, "pool.get_all", mine._session)["Status"] == "Success"
    assert raw(pool, "pool.get_all", mine._session)["Status"] == "Success"  # raw: XenAPI would log in again
    assert raw(pool, "pool.get_all", idle._session)["ErrorDescription"] == ["SESSION_INVALID", idle._session]


def test_logged_out_session_is_invalid(pool):
    session = pool.server.session()
    ref = session._session
    session.xenapi.session.logout()
    assert raw(pool, "pool.get_all", ref) == {"Status": "Failure", "ErrorDescription": ["SESSION_INVALID", ref]}


def test_client_relogs_in_after_session_invalid(pool):
    session = pool.server.session()
    raw(pool, "session.logout", session._session)
    assert len(session.xenapi.pool.get_all()) == 1


def test_client_api_version_property_reads_the_master(readonly_pool):
    pool = readonly_pool
    assert pool.session.API_version == "2.21"


def test_pool_readers(readonly_pool):
    pool = readonly_pool
    x = pool.x
    [ref] = x.pool.get_all()
    record = x.pool.get_record(ref)
    assert record["ha_enabled"] is False and x.pool.get_ha_enabled(ref) is False
    assert x.pool.get_ha_cluster_stack(ref) == "xhad" == record["ha_cluster_stack"]
    assert x.pool.get_master(ref) == record["master"] in x.host.get_all()
    assert record["uuid"] and ref.startswith("OpaqueRef:")


def test_host_readers(readonly_pool):
    pool = readonly_pool
    x = pool.x
    hosts = x.host.get_all()
    assert len(hosts) == 2
    record = x.host.get_record(hosts[0])
    assert x.host.get_by_uuid(record["uuid"]) == hosts[0]
    assert record["address"].startswith("10.213.0.") and record["PBDs"] == []  # its sandbox's address
    [pif] = record["PIFs"]
    assert x.PIF.get_record(pif)["management"] is True and x.PIF.get_device(pif) == "eth0"
    assert x.host_metrics.get_live(record["metrics"]) is True


def test_sm_records_carry_required_cluster_stack_from_driver_info(readonly_pool):
    pool = readonly_pool
    x = pool.x
    records = x.SM.get_all_records()
    assert sorted(records) == sorted(x.SM.get_all())
    by_type = {r["type"]: r for r in records.values()}
    assert by_type["ocfs2"]["required_cluster_stack"] == ["corosync"]
    assert by_type["melio"]["required_cluster_stack"] == ["melio"]
    assert by_type["lvm"]["required_cluster_stack"] == []
    ref = [r for r, rec in records.items() if rec["type"] == "dual"][0]
    assert x.SM.get_record(ref)["required_cluster_stack"] == ["corosync", "melio"]


def test_sr_create_runs_sr_create_then_plugs_every_host(pool):
    x = pool.x
    sr = pool.create_sr("lvm")
    record = x.SR.get_record(sr)
    assert record["type"] == "lvm" and record["shared"] is True
    assert x.SR.get_by_uuid(record["uuid"]) == sr and sr in x.SR.get_all()
    assert sorted(x.SR.get_PBDs(sr)) == sorted(record["PBDs"]) and len(record["PBDs"]) == 2
    assert all(x.PBD.get_record(p)["currently_attached"] for p in record["PBDs"])
    # the master's PBD first, then its initial SR update (message_forwarding.ml PBD.plug), then the others
    assert [c[0] for c in calls(pool.ctl["lvm"])][1:] == ["sr_create", "sr_attach", "sr_update", "sr_attach"]
    assert x.SR.get_all_records()[sr]["uuid"] == record["uuid"]


def test_unshared_sr_gets_one_pbd(pool):
    sr = pool.create_sr("lvm", shared=False)
    assert len(pool.x.SR.get_PBDs(sr)) == 1


def test_an_unshared_sr_attached_on_one_host_cannot_be_plugged_on_another(pool):
    """``check_sharing_constraint`` (``xapi_pbd.ml``): SR_NOT_SHARABLE [sr, the host it is attached on]."""
    x = pool.x
    sr = pool.create_sr("lvm", shared=False)
    (first,) = x.SR.get_PBDs(sr)
    here = x.PBD.get_host(first)
    other = [h for h in x.host.get_all() if h != here][0]
    pbd = x.PBD.create({"host": other, "SR": sr, "device_config": {"device": "/dev/fixture"}})
    assert failure(x.PBD.plug, pbd) == ["SR_NOT_SHARABLE", sr, here]
    assert x.PBD.get_currently_attached(pbd) is False
    x.PBD.unplug(first)
    x.PBD.plug(pbd)  # attached nowhere else now
    assert failure(x.PBD.plug, first) == ["SR_NOT_SHARABLE", sr, other]


def test_pbd_unplug_plug_destroy_create(pool):
    x = pool.x
    sr = pool.create_sr("lvm")
    pbd = x.SR.get_PBDs(sr)[0]
    record = x.PBD.get_record(pbd)
    x.PBD.unplug(pbd)
    assert x.PBD.get_currently_attached(pbd) is False
    x.PBD.unplug(pbd)  # unplugging a detached PBD is a no-op
    x.PBD.plug(pbd)
    assert x.PBD.get_record(pbd)["currently_attached"] is True
    assert failure(x.PBD.destroy, pbd)[0] == "OPERATION_NOT_ALLOWED"
    x.PBD.unplug(pbd)
    x.PBD.destroy(pbd)
    assert pbd not in x.PBD.get_all()
    new = x.PBD.create({"host": record["host"], "SR": sr, "device_config": {"device": "/dev/z"}})
    assert x.PBD.get_record(new)["device_config"] == {"device": "/dev/z"}
    assert new in x.PBD.get_all_records()
    assert failure(x.PBD.create, {"host": record["host"], "SR": sr})[0] == "PBD_EXISTS"


def test_get_all_records_where(pool):
    x = pool.x
    sr = pool.create_sr("lvm")
    pbd = x.SR.get_PBDs(sr)[0]
    x.PBD.unplug(pbd)
    attached = x.PBD.get_all_records_where('field "currently_attached" = "true"')
    assert pbd not in attached and len(attached) == 1
    host = x.PBD.get_host(pbd)
    found = x.PBD.get_all_records_where('field "host" = "%s" and not (field "SR" <> "%s")' % (host, sr))
    assert list(found) == [pbd]
    assert failure(x.PBD.get_all_records_where, 'field "host" =')[0] == "INVALID_VALUE"


def test_sr_introduce_forget(pool):
    x = pool.x
    sr = x.SR.introduce("", "intro", "", "lvm", "user", True, {})
    assert x.SR.get_record(sr)["PBDs"] == []
    x.SR.forget(sr)
    assert failure(x.SR.get_record, sr) == ["HANDLE_INVALID", "SR", sr]


def test_sr_forget_refused_while_attached_and_destroy_runs_sr_delete(pool):
    """``xapi_sr.ml`` ``check_no_pbds_attached``: SR_HAS_PBD [sr] for forget and destroy while a PBD is plugged."""
    x = pool.x
    sr = pool.create_sr("lvm")
    assert failure(x.SR.forget, sr) == ["SR_HAS_PBD", sr]
    assert failure(x.SR.destroy, sr) == ["SR_HAS_PBD", sr]
    for pbd in x.SR.get_PBDs(sr):
        x.PBD.unplug(pbd)
    x.SR.destroy(sr)
    assert sr not in x.SR.get_all() and calls(pool.ctl["lvm"])[-1][0] == "sr_delete"


def test_unknown_method(readonly_pool):
    pool = readonly_pool
    assert raw(pool, "pool.no_such_thing", pool.session._session)["ErrorDescription"] == [
        "MESSAGE_METHOD_UNKNOWN", "pool.no_such_thing"]


def test_wrong_arity_names_method_expected_received(readonly_pool):
    pool = readonly_pool
    answer = raw(pool, "PBD.plug", pool.session._session)
    assert answer["ErrorDescription"] == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "PBD.plug", "2", "1"]


def test_bad_ref_is_handle_invalid_with_class(readonly_pool):
    pool = readonly_pool
    assert failure(pool.x.PBD.plug, "OpaqueRef:nope") == ["HANDLE_INVALID", "PBD", "OpaqueRef:nope"]
    assert failure(pool.x.SR.get_record, "OpaqueRef:NULL") == ["HANDLE_INVALID", "SR", "OpaqueRef:NULL"]


def test_wrong_type_is_field_type_error(readonly_pool):
    pool = readonly_pool
    assert failure(pool.x.SR.get_record, 42) == ["FIELD_TYPE_ERROR", "self"]


def test_driver_fault_becomes_sr_backend_failure(pool):
    pool.inject("lvm", "fault", "sr_create", 603)
    assert failure(pool.create_sr, "lvm") == [
        "SR_BACKEND_FAILURE_603", "", "injected fault []", "stderr of sr_create\n"]
    assert [r for r in pool.x.SR.get_all_records().values() if r["type"] == "lvm"] == []


@pytest.mark.parametrize("code, error", [(38, "SR_OPERATION_NOT_SUPPORTED"), (39, "SR_NOT_EMPTY"),
                                         (16, "SR_DEVICE_IN_USE")])
def test_named_sm_faults(pool, code, error):
    sr = pool.create_sr("lvm")
    pbd = pool.x.SR.get_PBDs(sr)[0]
    pool.x.PBD.unplug(pbd)
    pool.inject("lvm", "fault", "sr_attach", code)
    details = failure(pool.x.PBD.plug, pbd)
    assert details[0] == error
    assert pool.x.PBD.get_currently_attached(pbd) is False


def test_driver_exclusion_fault_becomes_incompatible_cluster_stack_active(pool):
    pool.inject("dual", "fault", "sr_attach", 605)
    pbd = pool.x.SR.get_PBDs(introduce(pool, "dual", "d"))[0]
    assert failure(pool.x.PBD.plug, pbd) == ["INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "corosync,melio"]


def test_unparseable_driver_output_is_sr_backend_failure(pool):
    pool.inject("lvm", "garbage", "sr_create", 1)
    details = failure(pool.create_sr, "lvm")
    assert details[0] == "SR_BACKEND_FAILURE" and "this is not XML" in details[2]


def test_unknown_sr_type(readonly_pool):
    pool = readonly_pool
    assert failure(pool.create_sr, "nosuch") == ["SR_UNKNOWN_DRIVER", "nosuch"]


def test_ha_enable_disable_and_statefile_vdi(pool):
    x = pool.x
    sr = pool.create_sr("lvm")
    x.pool.enable_ha([sr], {"timeout": "30"})
    [ref] = x.pool.get_all()
    record = x.pool.get_record(ref)
    assert record["ha_enabled"] is True and record["ha_cluster_stack"] == "xhad"
    [vdi] = record["ha_statefiles"]
    vdi_record = x.VDI.get_record(vdi)
    assert vdi_record["SR"] == sr and vdi_record["sm_config"] == {"type": "raw"}
    assert int(vdi_record["virtual_size"]) == 266240 and vdi in x.VDI.get_all_records()  # xha_statefile.ml
    assert failure(x.pool.enable_ha, [sr], {}) == ["HA_IS_ENABLED"]
    assert failure(x.PBD.unplug, x.SR.get_PBDs(sr)[0]) == ["HA_IS_ENABLED"]
    x.pool.disable_ha()
    kept = x.VDI.get_all_records()  # released, kept for the next enable (xapi_ha.ml enable)
    assert x.pool.get_ha_enabled(ref) is False and vdi in kept and len(kept) == 2
    assert failure(x.pool.disable_ha) == ["HA_NOT_ENABLED"]
    scripts = [c[1] for c in pool.stack_calls()]
    # xapi_ha.ml: init on the master, joins, propose; disable through the statefile: invalid, stop the master
    assert scripts[0] == "ha_set_pool_state" and scripts.count("ha_start_daemon") == 2
    assert "ha_propose_master" in scripts and scripts.count("ha_set_pool_state") == 2
    assert scripts[scripts.index("ha_set_pool_state", 1) + 1] == "ha_stop_daemon"


def test_enable_ha_without_heartbeat_sr_cannot_create_state_file(pool):
    assert failure(pool.x.pool.enable_ha, [], {}) == ["CANNOT_CREATE_STATE_FILE"]


def test_heartbeat_sr_not_plugged_everywhere_is_sr_no_pbds(pool):
    sr = pool.create_sr("lvm", shared=False)
    assert failure(pool.x.pool.enable_ha, [sr], {}) == ["SR_HAS_NO_PBDS", sr]
