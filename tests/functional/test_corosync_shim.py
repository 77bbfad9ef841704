"""The shim end to end with the shipped corosync-ha stack on three sandboxed hosts.

``sm-clusterstack serve --sandbox`` runs a pool of three host sandboxes and
runs every stack script inside the host's sandbox, as xapi runs it (PATH
only, the host's own /etc/xensource/xhad.conf, written by the shim's
enable_ha).  The SR is the shim's fixture ``ocfs2`` driver (a test double of
the SM driver, requiring corosync-ha; its statefile VDI is a file); the
stack is the shipped one, driving real corosync daemons.  Each host's
settings file names a recording fence action: nothing reboots.
"""

import os
import subprocess
import sys

import pytest

from helpers import corosync_pool
from helpers.shim import SR_SIZE, Server, make_driver
from sm_clusterstack.stacks import liveset

pytestmark = [pytest.mark.skipif(corosync_pool.skip_reason() is not None, reason=str(corosync_pool.skip_reason())),
              pytest.mark.slow(9)]


def host_dir(server, x, host, *inside):
    number = x.host.get_other_config(host)["sandbox-netns"].rsplit("-h", 1)[1]
    return os.path.join(server.state, "sandbox", "hosts", "h" + number, *inside)


def sandbox_exec(server, x, host, *argv):
    return subprocess.run([sys.executable, "-m", "sm_clusterstack.cli", "sandbox", "exec", "--state",
                           server.state, x.host.get_uuid(host), "--"] + list(argv),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, universal_newlines=True,
                          env=dict(os.environ, PATH=corosync_pool.XAPI_PATH))


def test_enable_ha_on_an_ocfs2_sr_brings_three_sandboxed_hosts_online_and_disable_stops_them(tmp_path):
    sm = str(tmp_path / "sm")
    make_driver(sm, str(tmp_path / "ctl"), "ocfs2", ["corosync-ha"])
    recorder = str(tmp_path / "record-fence")
    with open(recorder, "w") as f:
        f.write(corosync_pool.RECORDER % sys.executable)
    os.chmod(recorder, 0o755)
    env = dict(os.environ, PATH=corosync_pool.XAPI_PATH)  # xapi's PATH: python3 is this interpreter
    server = Server(str(tmp_path / "state"), sm, corosync_pool.STACK_ROOT, hosts=3, sandbox=True, env=env).start()
    x = server.session().xenapi
    try:
        hosts = x.host.get_all()
        for host in hosts:
            with open(host_dir(server, x, host, "etc", "sm-clusterstack", "corosync-ha.conf"), "w") as f:
                f.write('fence-action = "%s %s"\nwatchdog-device = none\n' % (recorder, tmp_path / "fenced"))
        master = x.pool.get_master(x.pool.get_all()[0])
        sr = x.SR.create(master, {"device": "/dev/fixture"}, str(SR_SIZE), "hb", "", "ocfs2", "user", True, {})
        x.pool.enable_ha([sr], {"timeout": "10"})
        pool = x.pool.get_all()[0]
        assert (x.pool.get_ha_enabled(pool), x.pool.get_ha_cluster_stack(pool)) == (True, "corosync-ha")
        every = sorted(x.host.get_uuid(h) for h in hosts)
        for host in hosts:
            result = sandbox_exec(server, x, host, "ha_query_liveset")
            assert result.returncode == 0, result.stderr
            seen = liveset.parse(result.stdout)
            assert seen.status == "Online" and sorted(seen.live_hosts()) == every
            assert seen.host(x.host.get_uuid(master)).master
        # issue 18: no kernel watchdog is never silent: the liveset's note, shown by ha status for every host
        status = subprocess.run([sys.executable, "-m", "sm_clusterstack.cli", "ha", "status", "-s", server.url,
                                 "--password-file", server.password_file], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=120, universal_newlines=True)
        assert status.returncode == 0, status.stderr
        for number in (1, 2, 3):
            assert "host%d: no kernel watchdog: the watchdog device is set to none" % number in status.stdout
        x.pool.disable_ha()
        assert x.pool.get_ha_enabled(pool) is False
        for host in hosts:
            assert sandbox_exec(server, x, host, "ha_query_liveset").returncode == 14
        assert not os.path.exists(str(tmp_path / "fenced"))
    finally:
        server.stop()
