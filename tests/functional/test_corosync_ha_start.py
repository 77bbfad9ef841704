"""corosync-ha on sandboxed hosts: start, query, propose, stop, exclusion, as xapi drives them.

Each host is a host sandbox; the scripts run with xapi's environment and
the host's own /etc/xensource/xhad.conf (corosync_pool).  The fence action
is a recorder set in each host's settings file: nothing reboots.
"""

import time

import pytest

from helpers import corosync_pool
from helpers.corosync_pool import CorosyncPool, ok, wait_for
from sm_clusterstack.corostack import daemon
from sm_clusterstack.stacks import mtc, xhadconf

pytestmark = [pytest.mark.skipif(corosync_pool.skip_reason() is not None, reason=str(corosync_pool.skip_reason())),
              pytest.mark.slow(8)]


def test_start_on_three_hosts_returns_only_when_each_is_in_an_online_liveset(pool3):
    """xhad's ha_start_daemon: returns once ``gethoststate`` is Online (all hosts in pool state init)."""
    results = pool3.start_all()
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    for host in pool3.hosts:
        seen = host.liveset()  # right after its start returned: no waiting
        assert seen.status == "Online" and sorted(seen.live_hosts()) == sorted(h.host_id for h in pool3.hosts)
        assert set(seen.warnings) == {"statefile_lost", "heartbeat_approaching_timeout",
                                      "statefile_approaching_timeout", "Xapi_healthcheck_approaching_timeout",
                                      "network_bonding_error"}
        assert not any(seen.warnings.values())
    assert [h.run("ha_propose_master").stdout for h in pool3.hosts].count("TRUE\n") == 1
    assert all(h.fences() == [] for h in pool3.hosts)


def test_a_host_that_cannot_join_times_out_with_12_and_leaves_nothing_running(tmp_path):
    pool = CorosyncPool(tmp_path, 2)
    try:
        pool.write_conf(pool.hosts[0], EnableJoinTimeout=3)
        ok(pool.hosts[0].run("ha_set_pool_state", "init"))
        result = pool.hosts[0].run("ha_start_daemon")  # host 2 never starts: init needs every host
        assert result.returncode == mtc.BOOTJOIN_TIMEOUT, result.stderr
        assert pool.hosts[0].box.pids() == []
    finally:
        pool.teardown()


def test_stop_leaves_nothing_and_the_others_drop_the_host_at_once(pool3):
    pool3.start_all()
    h1, h2, h3 = pool3.hosts
    ok(h3.run("ha_disarm_fencing"))
    ok(h3.run("ha_stop_daemon"))
    assert h3.box.pids() == []
    assert h3.run("ha_query_liveset").returncode == mtc.DAEMON_IS_NOT_PRESENT
    assert h3.run("ha_disarm_fencing").returncode == mtc.DAEMON_IS_NOT_PRESENT
    ok(h3.run("ha_stop_daemon"))  # nothing runs: still success
    seen = wait_for(lambda: h1.liveset() if h3.host_id not in h1.liveset().live_hosts() else None, 10)
    assert seen.status == "Online" and h3.fences() == []


def test_set_excluded_while_running_leaves_without_fencing_and_a_restart_clears_the_mark(pool3):
    pool3.start_all()
    h1, h2, h3 = pool3.hosts
    ok(h3.run("ha_set_excluded"))
    assert h3.box.pids() == []
    seen = wait_for(lambda: h1.liveset() if h3.host_id not in h1.liveset().live_hosts() else None, 10)
    assert seen.host(h3.host_id).excluded and seen.status == "Online"
    ok(h3.run("ha_start_daemon"))  # joins the existing liveset and clears its own mark
    assert not h3.liveset().host(h3.host_id).excluded
    wait_for(lambda: not h1.liveset().host(h3.host_id).excluded and h3.host_id in h1.liveset().live_hosts(), 10)
    assert all(h.fences() == [] for h in pool3.hosts)


def test_an_excluded_host_alone_at_boot_is_blocked_with_18(tmp_path):
    pool = CorosyncPool(tmp_path, 2)
    try:
        pool.start_all()
        h1, h2 = pool.hosts
        ok(h1.run("ha_disarm_fencing"))
        ok(h2.run("ha_disarm_fencing"))
        ok(h1.run("ha_stop_daemon"))
        ok(h1.run("ha_set_excluded"))
        ok(h2.run("ha_stop_daemon"))  # h2 stops uncleanly: not excluded
        result = h1.run("ha_start_daemon")
        assert result.returncode == mtc.BOOT_BLOCKED_BY_EXCLUDED, result.stderr
        assert h1.box.pids() == []
    finally:
        pool.teardown()


def test_pool_state_invalid_stops_every_daemon_by_itself_without_fencing_and_ha_enables_again(tmp_path):
    """xapi_ha.ml disable_internal -> attempt_disable_through_statefile: ``ha_set_pool_state invalid`` and
    ha_stop_daemon on the master, then Host.ha_wait_for_shutdown_via_statefile on every host (until
    ha_query_liveset exits 14).  xhad (daemon/sm.c check_pool_state) aborts on the invalid state it reads
    each statefile interval: so must every daemon here, within StateFileInterval, fencing nobody.
    """
    pool = CorosyncPool(tmp_path, 3, prefix="s12b")
    try:
        assert [r.returncode for r in pool.start_all()] == [0, 0, 0]
        master, others = pool.hosts[0], pool.hosts[1:]
        ok(master.run("ha_set_pool_state", "invalid"))  # accepted while every daemon runs, as xhad's
        noticed_by = time.monotonic() + xhadconf.derive_timeouts(pool.t)["StateFileInterval"]
        ok(master.run("ha_stop_daemon"))
        for host in others:
            wait_for(lambda: host.run("ha_query_liveset").returncode == mtc.DAEMON_IS_NOT_PRESENT,
                     max(0.0, noticed_by - time.monotonic()), interval=0.1)
        for host in pool.hosts:  # corosync may take its own leave time to exit
            wait_for(lambda: host.box.pids() == [], daemon.STOP_TIMEOUT)
            assert host.fences() == [] and host.fences(escalated=True) == []
        assert all("HA daemon started shutdown process" in h.log() for h in others)
        assert [r.returncode for r in pool.start_all()] == [0, 0, 0]  # init and start: HA enabled again
        assert all(h.liveset().status == "Online" for h in pool.hosts)
    finally:
        pool.teardown()
