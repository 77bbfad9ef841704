"""HA on a pool whose management network is IPv6 only (``serve --sandbox --ipv6``; XCP-ng 8.3 has IPv6
management): xapi writes the hosts' IPv6 addresses into xhad.conf (``xapi_ha.ml`` ``write_config_file``,
``host.address``), xhad reads them (xenserver/xha ``lib/config.c``, ``daemon/heartbeat.c``: AF_INET6),
corosync/knet speaks IPv6.  On the real xhad (``make xhad``) and the shipped corosync-ha: HA enables,
xhad.conf is what xapi writes, and a host cut from the network goes not-live on the master.
"""

import shutil

import pytest

from helpers.ha_pools import all_live, cut_slave, skip_reason
from sm_clusterstack.stacks import xhadconf

INTERVAL = 1.0
SECONDS = {"xhad": 95, "corosync-ha": 25}  # as test_ha_runtime's
STACKS = [pytest.param(s, marks=[pytest.mark.skipif(skip_reason(s) is not None, reason=str(skip_reason(s))),
                                 pytest.mark.slow(SECONDS[s])])
          for s in ("xhad", "corosync-ha")]


@pytest.fixture(params=STACKS)
def ha6(request, tmp_path):
    with all_live(str(tmp_path), request.param, INTERVAL, ipv6=True) as pool:
        yield pool


def test_ha_enables_on_ipv6_only_hosts_with_xhad_conf_as_xapi_writes_it(ha6):
    pool = ha6
    hosts = pool.x.host.get_all_records()
    assert pool.x.pool.get_ha_enabled(pool.x.pool.get_all()[0])
    for ref, host in hosts.items():
        assert xhadconf.is_ip_address(host["address"]) and ":" in host["address"]
        shown = pool.box(ref).run([shutil.which("ip") or "/usr/sbin/ip", "-4", "-o", "addr", "show", "dev", "xenbr0"],
                                  timeout=10)
        assert shown.returncode == 0 and shown.stdout.strip() == ""  # no IPv4 address at all
        with open(pool.host_dir(ref, "etc", "xensource", "xhad.conf"), "rb") as f:
            written = f.read()
        conf = xhadconf.parse(written)
        in_order = [hosts[r] for r in sorted(hosts, reverse=True)]  # xapi's Db.Host.get_all_records order
        assert [(h.host_id, h.ip_address) for h in conf.hosts] == [(h["uuid"], h["address"]) for h in in_order]
        assert conf.to_xml() == written


def test_a_cut_host_goes_not_live_on_the_master_over_ipv6(ha6):
    pool = ha6
    master = pool.master()
    _slave, took, bound = cut_slave(pool, INTERVAL)
    assert took <= bound
    assert pool.live(master)
