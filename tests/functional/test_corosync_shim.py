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
import time

import pytest

from helpers import corosync_pool, ha_pools
from helpers.shim import SR_SIZE, Server, make_driver
from sm_clusterstack import hostsandbox
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


def until(probe, timeout, what):
    """``probe()``'s first true value within ``timeout`` seconds (the bound a failure shows by)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("%s: not within %.0f s" % (what, timeout))


@pytest.mark.slow(60)
def test_default_settings_fence_a_cut_host_by_its_own_reboot_which_its_power_switch_boots_back(tmp_path):
    """Issue 18: ``serve --sandbox`` as a user starts it, no settings file: corosync-ha's fence is the kernel's
    reboot.  This machine has no sysrq, so it is reboot(2) (``fencing.kernel_reboot``), which in the cut host's
    PID namespace kills its init and every process of the host; the shim's power switch sees the init gone,
    posts HA_HOST_WAS_FENCED and powers the host on (a new PID namespace), and it rejoins once its link is back.
    Then ``pool-ha-disable`` leaves no process on any host but its init (its whole PID namespace and its
    network namespace searched).  Order of events only; the waits are bounded by the stack's failure
    timeout and a reboot's rounds, with room for a loaded machine.
    """
    if os.path.exists(hostsandbox.SYSRQ):
        pytest.skip("this machine has sysrq: the kernel fence writes the host's stand-in (test_ha_sandboxed_pool)")
    pool = ha_pools.HAPool(str(tmp_path), "corosync-ha", recording_fence=False)
    x = pool.x
    try:
        hosts = x.host.get_all()
        until(lambda: all(pool.live(h) for h in hosts), 120, "every host live")
        master = pool.master()
        slave = sorted(h for h in hosts if h != master)[0]
        uuid, box = x.host.get_uuid(slave), pool.box(slave)
        code, out = pool.query(slave)
        assert code == 0 and "reboot(2)" in liveset.parse(out.encode()).notes["fence"]  # said for ha status
        old_ns, old_init = os.stat(box.pid_ns).st_ino, box.init_pid()
        box.set_link(False)
        bound = 3 * ha_pools.failure_timeout("corosync-ha")

        def fenced():
            return [m for m in x.message.get_all_records().values()
                    if m["name"] == "HA_HOST_WAS_FENCED" and m["obj_uuid"] == uuid]
        message = until(fenced, bound, "HA_HOST_WAS_FENCED")[0]
        assert "reboot(2) in its PID namespace: its init was killed by SIGHUP" in message["body"], message
        with open(box.path("/var/log/sm-clusterstack/corosync-ha.log")) as f:
            assert "fencing by the reboot(2) system call in PID namespace %d" % old_ns in f.read()
        until(lambda: not pool.live(slave), bound, "the master drops the cut host")
        until(lambda: box.powered() and box.init_pid() not in (None, old_init), bound, "powered on: a new init")
        box.set_link(True)
        until(lambda: pool.live(slave) and pool.query(slave)[0] == 0, 6 * ha_pools.T + bound, "the host back")
        with open(pool.server.state + ".log") as f:
            log = f.read()
        assert "this machine has no %s" % hostsandbox.SYSRQ in log  # said at start-up
        assert log.index("reboot(2) in its PID namespace") < log.index("HA_HOST_WAS_FENCED")
        x.pool.disable_ha()
        for host in hosts:
            left = pool.box(host)
            assert left.powered() and left.pids() == [], (x.host.get_name_label(host), left.pids())
    finally:
        pool.close()
