"""xhad.conf -> corosync.conf: node ids, cluster name, totem timeouts, port, nodelist."""

import re
import uuid

import pytest

import sm_clusterstack
from sm_clusterstack import corostack
from sm_clusterstack.corostack import conf as coroconf
from sm_clusterstack.stacks.xhadconf import Host, XhadConfig

GENERATION = "5b3f1a9e-7c2d-4e8f-9a0b-1c2d3e4f5a6b"


def ids(n, seed=0):
    return [str(uuid.UUID(int=(seed << 64) + i + 1)) for i in range(n)]


def make(host_ids, **kw):
    hosts = [Host(h, "10.0.%d.%d" % (i // 250, i % 250 + 1)) for i, h in enumerate(host_ids)]
    return XhadConfig(GENERATION, hosts, host_ids[0], "/dev/sm/statefile", **kw)


def sections(text):
    """Every 'key: value' line of a corosync.conf, as (key, value) pairs in order."""
    return [tuple(part.strip() for part in line.split(":", 1))
            for line in text.splitlines() if ":" in line and not line.startswith("#")]


def test_node_ids_are_distinct_and_within_knet_limits_for_64_hosts():
    found = coroconf.node_ids(make(ids(64)))
    assert len(set(found.values())) == 64
    assert all(1 <= n <= 65535 for n in found.values())


def test_node_ids_stay_the_same_when_hosts_are_added():
    before = coroconf.node_ids(make(ids(3)))
    after = coroconf.node_ids(make(ids(3) + ids(40, seed=7)))
    assert {h: after[h] for h in before} == before


def test_node_ids_do_not_depend_on_host_order_or_case():
    hosts = ids(5)
    reordered = [h.upper() for h in reversed(hosts)]
    assert coroconf.node_ids(make(hosts)) == coroconf.node_ids(make(reordered))


def test_node_id_collision_is_resolved_deterministically(monkeypatch):
    class SameDigest(object):
        def __init__(self, data):
            pass

        def digest(self):
            return b"\0\0\0\x07" + b"\0" * 28
    monkeypatch.setattr(coroconf.hashlib, "sha256", SameDigest)
    hosts = ids(3)
    assert coroconf.node_ids(make(hosts)) == {hosts[0]: 8, hosts[1]: 9, hosts[2]: 10}


def test_cluster_name_is_the_pools_setting_not_the_generation():
    assert corostack.cluster_name({}) == sm_clusterstack.DEFAULT_CLUSTER_NAME
    assert corostack.cluster_name({corostack.CLUSTER_NAME_ENV: "pool-a"}) == "pool-a"
    text = coroconf.render(make(ids(3)), "/run/x", "pool-a")
    assert dict(sections(text))["cluster_name"] == "pool-a"


@pytest.mark.parametrize("name", ["x" * 17, "a b", "a/b", "caf\u00e9"])
def test_cluster_name_ocfs2_cannot_carry_is_refused(name):
    with pytest.raises(ValueError):
        corostack.cluster_name({corostack.CLUSTER_NAME_ENV: name})


def test_heartbeat_timeout_becomes_token_with_consensus_and_no_coefficient():
    text = coroconf.render(make(ids(3), parameters={"HeartbeatTimeout": 7}), "/run/x", "xapi")
    pairs = dict(sections(text))
    assert (pairs["token"], pairs["consensus"], pairs["token_coefficient"]) == ("7000", "8400", "0")


def test_default_token_when_no_heartbeat_timeout():
    assert dict(sections(coroconf.render(make(ids(1)), "/run/x", "xapi")))["token"] == "3000"


@pytest.mark.parametrize("seconds", [0, 601])
def test_heartbeat_timeout_out_of_range_is_refused(seconds):
    with pytest.raises(ValueError, match="HeartbeatTimeout"):
        coroconf.render(make(ids(3), parameters={"HeartbeatTimeout": seconds}), "/run/x", "xapi")


def test_udp_port_is_the_knet_link_port():
    pairs = dict(sections(coroconf.render(make(ids(3), udp_port=50123), "/run/x", "xapi")))
    assert (pairs["transport"], pairs["linknumber"], pairs["mcastport"]) == ("knet", "0", "50123")


def test_every_host_is_a_node_with_its_id_name_and_address():
    conf = make(ids(4))
    text = coroconf.render(conf, "/run/x", "xapi")
    nodes = re.findall(r"nodeid: (\d+)\s+name: (\S+)\s+ring0_addr: (\S+)", text)
    expected = coroconf.node_ids(conf)
    assert nodes == [(str(expected[h.host_id]), h.host_id, h.ip_address) for h in conf.hosts]


def test_runtime_files_go_under_the_runtime_dir():
    pairs = dict(sections(coroconf.render(make(ids(3)), "/tmp/h1", "xapi")))
    assert (pairs["state_dir"], pairs["logfile"]) == ("/tmp/h1/state", "/tmp/h1/corosync.log")


def test_votequorum_with_a_tie_breaker_and_never_two_node():
    """two_node would keep both halves of a split two-host pool quorate (two masters)."""
    for n in (1, 2, 3, 4):
        pairs = sections(coroconf.render(make(ids(n)), "/run/x", "xapi"))
        assert ("provider", "corosync_votequorum") in pairs and ("auto_tie_breaker", "1") in pairs
        assert "two_node" not in dict(pairs)


def test_braces_balance_and_each_block_opens_on_its_own_line():
    text = coroconf.render(make(ids(3)), "/run/x", "xapi")
    assert text.count("{") == text.count("}")
    assert all(line.rstrip().endswith("{") for line in text.splitlines() if "{" in line)
