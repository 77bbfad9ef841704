"""The pool snapshot and the attach-time decision, over a fake XenAPI object (plain data)."""

import socket

import pytest
import XenAPI

from sm_clusterstack.smapi import pool
from sm_clusterstack.smapi.call import Call, CallError
from sm_clusterstack.smapi.driver import Failure


class FakeClass(object):
    def __init__(self, api, name, records):
        self._api, self._name, self._records = api, name, records

    def get_all_records(self):
        self._api.calls.append(self._name + ".get_all_records")
        return self._records

    def get_all_records_where(self, expr):
        self._api.calls.append(self._name + ".get_all_records_where")
        assert expr == 'field "currently_attached" = "true"'
        return {r: v for r, v in self._records.items() if v["currently_attached"]}


class FakeAPI(object):
    """session.xenapi with pool, PBD, SR and SM records; ``calls`` counts round trips."""

    def __init__(self, pool_record, srs, pbds, sms):
        self.calls = []
        self.pool = FakeClass(self, "pool", {"OpaqueRef:pool": pool_record})
        self.SR = FakeClass(self, "SR", srs)
        self.PBD = FakeClass(self, "PBD", pbds)
        self.SM = FakeClass(self, "SM", sms)


class FakeSession(object):
    def __init__(self, api):
        self.xenapi = api


def make_api(ha_enabled=False, stack="xhad", attached=(("OpaqueRef:a", "ocfs2"),), sm_stacks=None):
    sms = sm_stacks if sm_stacks is not None else {"ocfs2": ["corosync"], "melio": ["melio"], "lvm": []}
    srs = {ref: {"type": sr_type} for ref, sr_type in attached}
    pbds = {"OpaqueRef:pbd%d" % i: {"SR": ref, "currently_attached": True} for i, (ref, _) in enumerate(attached)}
    pbds["OpaqueRef:pbd-detached"] = {"SR": "OpaqueRef:x", "currently_attached": False}
    record = {"ha_enabled": ha_enabled}
    if stack is not None:
        record["ha_cluster_stack"] = stack
    return FakeAPI(record, srs, pbds,
                   {"OpaqueRef:sm-" + t: {"type": t, "required_cluster_stack": s} for t, s in sms.items()})


def test_snapshot_reads_the_pool_in_four_round_trips():
    api = make_api()
    state = pool.snapshot(FakeSession(api), "melio", ["melio"])
    assert api.calls == ["pool.get_all_records", "PBD.get_all_records_where", "SR.get_all_records",
                         "SM.get_all_records"]
    assert [(sr.ref, sr.type, sr.required_cluster_stack) for sr in state.attached] == [
        ("OpaqueRef:a", "ocfs2", ("corosync",))]


def test_snapshot_uses_the_drivers_own_stacks_for_its_type():
    api = make_api(sm_stacks={"ocfs2": []})  # stock xapi: [] for every SMAPIv1 driver
    state = pool.snapshot(FakeSession(api), "ocfs2", ["corosync"])
    assert state.attached[0].required_cluster_stack == ("corosync",)


def test_snapshot_asks_about_types_whose_sm_record_lacks_the_field_once_each():
    api = make_api(attached=(("OpaqueRef:a", "ocfs2"), ("OpaqueRef:b", "ocfs2"), ("OpaqueRef:c", "lvm")))
    for sm in api.SM._records.values():
        sm.pop("required_cluster_stack")  # stock xapi has no such field
    asked = []
    state = pool.snapshot(FakeSession(api), "melio", ["melio"],
                          lambda sr_type: asked.append(sr_type) or (["corosync"] if sr_type == "ocfs2" else []))
    assert sorted(asked) == ["lvm", "ocfs2"]
    assert [sr.required_cluster_stack for sr in state.attached] == [("corosync",), ("corosync",), ()]


def test_snapshot_of_a_pool_without_ha_cluster_stack_means_xhad():
    state = pool.snapshot(FakeSession(make_api(stack=None)), "ocfs2", ["corosync"])
    assert (state.ha_enabled, state.ha_cluster_stack) == (False, "xhad")


def test_shared_sr_attached_on_many_hosts_counts_once():
    api = make_api(attached=(("OpaqueRef:a", "ocfs2"), ("OpaqueRef:a", "ocfs2")))
    assert len(pool.snapshot(FakeSession(api), "lvm", []).attached) == 1


@pytest.fixture
def connected(monkeypatch):
    def use(api):
        monkeypatch.setattr(pool, "connect", lambda session_ref: FakeSession(api))
    return use


def attach_call():
    return Call("sr_attach", "OpaqueRef:h", session_ref="OpaqueRef:s", sr_ref="OpaqueRef:me", sr_uuid="u")


@pytest.mark.parametrize("api,sr_type,stacks,refused", [
    (make_api(ha_enabled=True, stack="xhad", attached=()), "ocfs2", ["corosync"], "corosync"),
    (make_api(ha_enabled=True, stack="corosync", attached=()), "ocfs2", ["corosync"], None),
    (make_api(), "melio", ["melio"], "melio"),
    (make_api(), "ocfs2", ["corosync"], None),
    (make_api(attached=(("OpaqueRef:me", "melio"),)), "melio", ["melio"], None),  # itself
])
def test_check_attach_decides_with_the_rules(connected, api, sr_type, stacks, refused):
    connected(api)
    if refused is None:
        pool.check_attach(attach_call(), sr_type, stacks)
        return
    with pytest.raises(Failure) as raised:
        pool.check_attach(attach_call(), sr_type, stacks)
    assert (raised.value.name, raised.value.detail) == ("IncompatibleClusterStack", refused)


def test_check_attach_needs_a_session_ref():
    with pytest.raises(CallError) as raised:
        pool.check_attach(Call("sr_attach", "OpaqueRef:h", sr_uuid="u"), "ocfs2", ["corosync"])
    assert raised.value.member == "session_ref"


@pytest.mark.parametrize("error", [XenAPI.Failure(["HANDLE_INVALID", "SR", "x"]),
                                   socket.timeout("timed out"), ConnectionRefusedError(111, "refused")])
def test_xenapi_errors_are_pool_unreachable(error):
    def fail():
        raise error
    with pytest.raises(Failure) as raised:
        pool._ask("pool.get_all_records", fail)
    assert raised.value.name == "PoolUnreachable"
    assert raised.value.detail.startswith("pool.get_all_records: ")


def test_endpoint_kinds(monkeypatch):
    monkeypatch.delenv(pool.ENDPOINT_ENV, raising=False)
    assert isinstance(pool.connect("OpaqueRef:s").transport, pool.SocketTransport)
    assert pool.connect("OpaqueRef:s").transport._path == "/var/lib/xcp/xapi"
    assert isinstance(pool.connect("OpaqueRef:s", "http://127.0.0.1:1/").transport, pool.TimeoutTransport)
    assert pool.connect("OpaqueRef:s", "/tmp/a_b.sock").transport._path == "/tmp/a_b.sock"
    assert pool.connect("OpaqueRef:s")._session == "OpaqueRef:s"


def test_snapshot_asks_about_other_types_recorded_empty_as_stock_xapi_records_them():
    """Stock xapi records [] for every SMAPIv1 driver: an attached Melio SR must still constrain OCFS2."""
    api = make_api(attached=(("OpaqueRef:m", "melio"), ("OpaqueRef:l", "lvm")), sm_stacks={"melio": [], "lvm": []})
    asked = []
    state = pool.snapshot(FakeSession(api), "ocfs2", ["corosync"],
                          lambda sr_type: asked.append(sr_type) or (["melio"] if sr_type == "melio" else []))
    assert sorted(asked) == ["lvm", "melio"]
    assert [(sr.type, sr.required_cluster_stack) for sr in state.attached] == [("lvm", ()), ("melio", ("melio",))]


def test_https_endpoint_is_reached_over_tls():
    session = pool.connect("OpaqueRef:s", "https://pool.example/", 5)
    assert isinstance(session._ServerProxy__transport, pool.SafeTimeoutTransport)
    assert isinstance(pool.connect("OpaqueRef:s", "http://127.0.0.1:1/", 5)._ServerProxy__transport,
                      pool.TimeoutTransport)
