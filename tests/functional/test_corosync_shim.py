"""The shim end to end with the real corosync stack on three namespace hosts.

``sm-clusterstack serve`` runs a pool of three hosts; each host's
``exec-prefix`` puts its scripts in its own network namespace with its own
runtime directory, and its address is the one inside that namespace.  The
SR is the shim's fixture ``ocfs2`` driver (a test double of the SM driver
that requires corosync; its statefile VDI is a file); the cluster stack is
the shipped corosync stack, driving real corosync daemons.
"""

import os
import shlex
import shutil
import sys

import pytest

from corosync_netns import STACK, SYSTEM_PATH, wait_liveset
from shim_helpers import Server, make_driver
from sm_clusterstack.stacks import mtc


@pytest.fixture
def shim(tmp_path, cluster, monkeypatch):
    """A serve process of three hosts whose scripts run in the cluster's namespaces."""
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
                       + os.pathsep + SYSTEM_PATH)
    root = tmp_path / "stacks"
    root.mkdir(mode=0o755)
    shutil.copytree(STACK, str(root / "corosync-ha"))
    os.chmod(str(root / "corosync-ha"), 0o755)
    sm_dir = str(tmp_path / "sm")
    make_driver(sm_dir, str(tmp_path / "ctl"), "ocfs2", ["corosync"])
    server = Server(str(tmp_path / "state"), sm_dir, str(root), hosts=3, extra=["--script-timeout", "90"])
    server.start()
    session = server.session()
    try:
        yield session.xenapi
    finally:
        try:
            x = session.xenapi
            pool = x.pool.get_all()[0]
            if x.pool.get_ha_enabled(pool):
                x.pool.disable_ha()
        finally:
            server.stop()


def bind_hosts(x, cluster):
    """Give each pool host a namespace host's address and exec-prefix, master first."""
    master = x.pool.get_master(x.pool.get_all()[0])
    refs = [master] + sorted(r for r in x.host.get_all() if r != master)
    for ref, host in zip(refs, cluster.hosts):
        host.host_id = x.host.get_uuid(ref)
        x.host.set_address(ref, host.address)
        prefix = ["ip", "netns", "exec", host.ns, "env", "SM_CLUSTERSTACK_COROSYNC_DIR=" + host.dir,
                  "SM_CLUSTERSTACK_FENCE_ACTION=%s %s" % (cluster.recorder, host.fence_log)]
        x.host.add_to_other_config(ref, "exec-prefix", " ".join(shlex.quote(p) for p in prefix))


def test_enable_ha_with_an_ocfs2_sr_brings_three_namespace_hosts_online_and_disable_stops_them(shim, cluster):
    x = shim
    bind_hosts(x, cluster)
    master = x.pool.get_master(x.pool.get_all()[0])
    sr = x.SR.create(master, {"device": "/dev/fixture"}, "0", "ocfs2", "", "ocfs2", "user", True, {})
    x.pool.enable_ha([sr], {"timeout": "2"})
    pool = x.pool.get_all()[0]
    assert (x.pool.get_ha_enabled(pool), x.pool.get_ha_cluster_stack(pool)) == (True, "corosync-ha")
    every_host = sorted(h.host_id.lower() for h in cluster.hosts)
    for host in cluster.hosts:
        seen = wait_liveset(host, lambda ls: ls.status == "Online" and sorted(
            h.lower() for h in ls.live_hosts()) == every_host, 60)
        assert (seen.localhost, sorted(h.host_id for h in seen.hosts)) == (host.host_id, every_host)

    x.pool.disable_ha()
    assert x.pool.get_ha_enabled(pool) is False
    for host in cluster.hosts:
        assert host.run("ha_query_liveset").returncode == mtc.DAEMON_IS_NOT_PRESENT
    assert [host.fences() for host in cluster.hosts] == [[], [], []]
