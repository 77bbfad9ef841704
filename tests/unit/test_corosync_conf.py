"""xhad.conf -> corosync.conf: node ids, cluster name, totem timeouts, port, nodelist."""

import re
import uuid

import pytest

from sm_clusterstack.corostack import conf as coroconf
from sm_clusterstack.corostack import daemon, timing
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


PATHS = daemon.Paths("/run/x", "/var/log/sm-clusterstack/corosync-ha.log")
T10 = timing.Timing(10)


def render(conf, name="xapi", times=T10, paths=PATHS):
    return coroconf.render(conf, paths, name, times)


def test_cluster_name_is_the_pools_setting_not_the_generation():
    assert dict(sections(render(make(ids(3)), "pool-a")))["cluster_name"] == "pool-a"


def test_heartbeat_timeout_gives_token_consensus_retransmits_and_knet_pings_and_no_coefficient():
    """T = 10 s: token 0.9 T (a corosync paused 0.8 T is no loss), consensus 0.1 T: a cut shows at T."""
    pairs = dict(sections(render(make(ids(3)), times=timing.of_parameters({"HeartbeatTimeout": 10}))))
    assert (pairs["token"], pairs["consensus"], pairs["token_coefficient"]) == ("9000", "1000", "0")
    assert pairs["token_retransmits_before_loss_const"] == "10"
    assert (pairs["knet_ping_interval"], pairs["knet_ping_timeout"], pairs["knet_pong_count"]) == ("250", "9500", "1")


def test_default_heartbeat_timeout_when_xhad_conf_has_none():
    assert timing.of_parameters({}).heartbeat_timeout == timing.DEFAULT_HEARTBEAT_TIMEOUT


@pytest.mark.parametrize("seconds", [0, 601])
def test_heartbeat_timeout_out_of_range_is_refused(seconds):
    with pytest.raises(ValueError, match="HeartbeatTimeout"):
        timing.of_parameters({"HeartbeatTimeout": seconds})


def test_udp_port_is_the_knet_link_port():
    pairs = dict(sections(render(make(ids(3), udp_port=694))))
    assert (pairs["transport"], pairs["linknumber"], pairs["mcastport"]) == ("knet", "0", "694")


def test_every_host_is_a_node_with_its_id_name_and_address():
    conf = make(ids(4))
    nodes = re.findall(r"nodeid: (\d+)\s+name: (\S+)\s+ring0_addr: (\S+)", render(conf))
    expected = coroconf.node_ids(conf)
    assert nodes == [(str(expected[h.host_id]), h.host_id, h.ip_address) for h in conf.hosts]


def test_state_goes_to_the_runtime_dir_and_logs_to_syslog_and_the_log_dir():
    pairs = sections(render(make(ids(3))))
    assert ("state_dir", "/run/x/state") in pairs
    assert ("logfile", "/var/log/sm-clusterstack/corosync-ha.corosync.log") in pairs
    assert ("to_syslog", "yes") in pairs and ("syslog_facility", "daemon") in pairs


def test_votequorum_without_tie_breaker_or_two_node():
    """A split without a majority is the statefile's to decide; corosync must not pick a side."""
    for n in (1, 2, 3, 4):
        pairs = dict(sections(render(make(ids(n)))))
        assert pairs["provider"] == "corosync_votequorum"
        assert "two_node" not in pairs and "auto_tie_breaker" not in pairs


def test_braces_balance_and_each_block_opens_on_its_own_line():
    text = render(make(ids(3)))
    assert text.count("{") == text.count("}")
    assert all(line.rstrip().endswith("{") for line in text.splitlines() if "{" in line)
