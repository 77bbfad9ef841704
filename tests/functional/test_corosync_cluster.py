"""The corosync stack on a real three-node corosync cluster, one network namespace per host.

Three hosts are network namespaces whose veth pairs meet on a bridge in a
fourth namespace; addresses exist only inside them.  Every script runs
per host through ``ip netns exec <ns> env SM_CLUSTERSTACK_COROSYNC_DIR=...``.
The fence action is a recording command (it appends its reason to a file).
Nothing is replaced: corosync, corosync-quorumtool and corosync-cmapctl
are the real ones.
"""

import os
import signal

from corosync_netns import HEARTBEAT_TIMEOUT, MARGIN, ok, online_with, wait_liveset
from sm_clusterstack.corostack import daemon
from sm_clusterstack.stacks import mtc

# the fixture ``cluster`` comes from conftest.py


def test_three_namespace_hosts_form_a_cluster_fence_on_isolation_and_leave_cleanly(cluster):
    h1, h2, h3 = cluster.hosts
    ok(h1.run("ha_set_pool_state", "init", "-C", h1.conf_path))
    for host in cluster.hosts:
        ok(host.run("ha_start_daemon", "-C", host.conf_path))
    for host in cluster.hosts:
        wait_liveset(host, online_with(1, 2, 3), 60)

    assert h1.run("ha_set_pool_state", "init").returncode == mtc.DAEMON_IS_PRESENT
    assert h2.run("ha_start_daemon").returncode == mtc.DAEMON_IS_PRESENT

    answers = [ok(host.run("ha_propose_master")).stdout.strip() for host in cluster.hosts]
    assert sorted(answers) == ["FALSE", "FALSE", "TRUE"]
    master = cluster.hosts[answers.index("TRUE")]
    assert [h.host_id for h in h1.liveset().hosts if h.master] == [master.host_id]

    check_corrupt_statefile_is_reported(cluster)

    cluster.link(h3, up=False)
    timeout = HEARTBEAT_TIMEOUT * 2.2 + MARGIN
    wait_liveset(h1, online_with(1, 2), timeout)
    wait_liveset(h2, online_with(1, 2), timeout)
    wait_liveset(h3, lambda ls: ls.status != "Online", timeout)
    daemon.wait_for(lambda: h3.fences(), timeout)
    assert h3.fences() == ["quorum lost"]

    cluster.link(h3, up=True)
    for host in cluster.hosts:
        wait_liveset(host, online_with(1, 2, 3), 60)

    ok(h2.run("ha_set_excluded"))
    ok(h2.run("ha_stop_daemon"))
    seen = wait_liveset(h1, online_with(1, 3), timeout)
    assert seen.host(h2.host_id).excluded and not seen.host(h1.host_id).excluded
    assert h2.run("ha_query_liveset").returncode == mtc.DAEMON_IS_NOT_PRESENT

    # as xapi disables HA: pool state invalid, then disarm and stop host by host;
    # h1, still armed, loses quorum when h3 stops and must not fence
    ok(h1.run("ha_set_pool_state", "invalid"))
    ok(h3.run("ha_disarm_fencing"))
    ok(h3.run("ha_stop_daemon"))
    wait_liveset(h1, lambda ls: ls.status != "Online", timeout)
    daemon.wait_for(lambda: "not fencing" in h1.monitor_log(), timeout)
    ok(h1.run("ha_stop_daemon"))
    for host in cluster.hosts:
        assert host.run("ha_query_liveset").returncode == mtc.DAEMON_IS_NOT_PRESENT
    assert (h1.fences(), h2.fences(), h3.fences()) == ([], [], ["quorum lost"])


def check_corrupt_statefile_is_reported(cluster):
    """While the cluster runs, a corrupt statefile shows in the liveset and stops propose_master."""
    with open(cluster.statefile, "rb") as f:
        good = f.read()
    with open(cluster.statefile, "r+b") as f:
        f.write(b"garbage")
    try:
        seen = cluster.hosts[0].liveset()
        assert seen.status == "Online" and all(h.statefile_corrupted for h in seen.hosts)
        assert cluster.hosts[1].run("ha_propose_master").returncode == mtc.INVALID_STATE_FILE
    finally:
        with open(cluster.statefile, "wb") as f:
            f.write(good)
    assert not any(h.statefile_corrupted for h in cluster.hosts[0].liveset().hosts)


def test_armed_host_whose_fence_monitor_died_reports_the_daemon_absent(cluster):
    """Without its monitor an armed host cannot fence: the liveset query says so (14), not 'healthy'."""
    h1 = cluster.hosts[0]
    ok(h1.run("ha_set_pool_state", "init", "-C", h1.conf_path))
    ok(h1.run("ha_start_daemon", "-C", h1.conf_path))
    ok(h1.run("ha_query_liveset"))
    paths = daemon.Paths(h1.dir)
    os.kill(daemon.monitor_pid(paths), signal.SIGKILL)
    assert daemon.wait_for(lambda: daemon.monitor_pid(paths) is None, 10, 0.1)
    result = h1.run("ha_query_liveset")
    assert result.returncode == mtc.DAEMON_IS_NOT_PRESENT and "fence monitor" in result.stderr
    ok(h1.run("ha_disarm_fencing"))
    ok(h1.run("ha_query_liveset"))  # disarmed: no monitor needed
    ok(h1.run("ha_stop_daemon"))
