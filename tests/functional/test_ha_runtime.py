"""The shim takes membership from the cluster stack (``ocaml/xapi/xapi_ha.ml`` ``Monitor``).

A 3-host sandboxed pool running the real xhad (built by ``make xhad``),
each host's monitor querying its liveset every second.  Faults are real:
a host's link on the pool's switch goes down; xhad's user-mode watchdog
(``-DWD_IGNORE``) makes a self-fence an ``abort()`` of xhad, logged as
"Self-Fence" in the host's /var/log/xha.log.
"""

import os
import time

import pytest

from sm_clusterstack import hostsandbox
from sm_clusterstack.stacks import liveset
from shim_helpers import SR_SIZE, Server, failure, make_driver

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
XHA_STACK_ROOT = os.path.join(ROOT, "build", "xha", "cluster-stack")
T = 10  # HA timeout: xapi's minimum, so failures are detected fast
INTERVAL = 1.0  # seconds between two liveset queries of a host's monitor
# xhad's failure timeout, from its fault handler (daemon/sm.c): HeartbeatTimeout until the views change,
# up to max(T1, T2) for every survivor to agree on the new partition, then StateFileWatchdogTimeout (t + 15)
# for the loser's watchdog to have fenced it, and only then the liveset drops it ("Liveset has been updated")
FAILURE_TIMEOUT = T + T + (T + 15)
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="host sandboxes need root"),
    pytest.mark.skipif(not os.path.isfile(os.path.join(XHA_STACK_ROOT, "xhad", "xhad")),
                       reason="the real xhad is not built: make xhad XHA_SRC=DIR (a xenserver/xha source tree)"),
]


@pytest.fixture
def ha_pool(tmp_path):
    sm = str(tmp_path / "sm")
    make_driver(sm, str(tmp_path / "ctl"), "lvm", [])
    server = Server(str(tmp_path / "state"), sm, XHA_STACK_ROOT, hosts=3, sandbox=True,
                    extra=["--ha-monitor-interval", str(INTERVAL)]).start()
    x = server.session().xenapi
    master = x.pool.get_master(x.pool.get_all()[0])
    sr = x.SR.create(master, {"device": "/dev/fixture"}, str(SR_SIZE), "hb", "", "lvm", "user", True, {})
    x.pool.enable_ha([sr], {"timeout": str(T)})
    try:
        yield server, x
    finally:
        try:
            if x.pool.get_ha_enabled(x.pool.get_all()[0]):
                x.pool.disable_ha()
        finally:
            server.stop()


def box(server, x, host):
    return hostsandbox.find(server.state, x.host.get_other_config(host)["sandbox-netns"])


def live(x, host):
    return x.host_metrics.get_live(x.host.get_metrics(host))


def wait(predicate, timeout, step=0.1):
    """Seconds until ``predicate()`` held; AssertionError after ``timeout``."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if predicate():
            return time.monotonic() - began
        time.sleep(step)
    raise AssertionError("not reached within %s s" % timeout)


def test_a_cut_slave_goes_not_live_on_the_master_and_comes_back_after_it_heals(ha_pool):
    """``process_liveset_on_master``: the stack's liveness becomes host_metrics.live, both ways."""
    server, x = ha_pool
    master = x.pool.get_master(x.pool.get_all()[0])
    slave = sorted(h for h in x.host.get_all() if h != master)[0]
    wait(lambda: all(live(x, h) for h in x.host.get_all()), 30)
    box(server, x, slave).set_link(False)
    took = wait(lambda: not live(x, slave), FAILURE_TIMEOUT + 2 * INTERVAL + 60)
    assert took <= FAILURE_TIMEOUT + 2 * INTERVAL + 3  # the stack's failure timeout, two rounds, script time
    assert live(x, master)
    box(server, x, slave).set_link(True)
    wait(lambda: live(x, slave), 180)  # it fenced; its "reboot" rejoins once the network is back


def test_a_cut_master_is_replaced_by_exactly_one_survivor_and_fences(ha_pool):
    """``on_master_failure``: a slave proposes, the one answered TRUE becomes pool.master; never two."""
    server, x = ha_pool
    pool = x.pool.get_all()[0]
    master = x.pool.get_master(pool)
    survivors = sorted(h for h in x.host.get_all() if h != master)
    boxes = {h: box(server, x, h) for h in survivors}
    env = hostsandbox.xapi_env(os.path.join(hostsandbox.STACK_ROOT_INSIDE, "xhad"))
    uuids = {h: x.host.get_uuid(h) for h in x.host.get_all()}
    box(server, x, master).set_link(False)
    two_masters, began = 0, time.monotonic()
    while x.pool.get_master(pool) == master and time.monotonic() - began < FAILURE_TIMEOUT + 60:
        flagged = set()
        for host, sandbox in boxes.items():
            result = sandbox.run(["ha_query_liveset"], timeout=30, env=env)
            if result.returncode == 0:
                seen = liveset.parse(result.stdout)
                flagged |= {h.host_id.lower() for h in seen.hosts if h.master and h.liveness}
        two_masters += len(flagged) > 1
        time.sleep(0.1)
    assert x.pool.get_master(pool) in survivors and two_masters == 0
    log = os.path.join(server.state, "sandbox", "hosts",
                       "h" + x.host.get_other_config(master)["sandbox-netns"].rsplit("-h", 1)[1], "var", "log",
                       "xha.log")
    wait(lambda: "Self-Fence" in open(log).read(), 60, step=0.5)
    assert any(m["name"] == "HA_POOL_MASTER_CHANGED" for m in x.message.get_all_records().values())
    assert uuids[master] not in liveset.parse(
        boxes[x.pool.get_master(pool)].run(["ha_query_liveset"], timeout=30, env=env).stdout).live_hosts()


def test_a_clean_shutdown_fences_no_one_and_reboot_brings_the_host_back(ha_pool):
    """``before_clean_shutdown_or_reboot``: disarm, stop, ha_set_excluded; the boot rejoins (xhad clears it)."""
    server, x = ha_pool
    master = x.pool.get_master(x.pool.get_all()[0])
    slave = sorted(h for h in x.host.get_all() if h != master)[0]
    wait(lambda: all(live(x, h) for h in x.host.get_all()), 30)
    x.host.shutdown(slave)
    assert not live(x, slave)
    time.sleep(T + 2 * INTERVAL)  # long enough for anyone to fence
    assert all(live(x, h) for h in x.host.get_all() if h != slave)
    for host in x.host.get_all():
        number = x.host.get_other_config(host)["sandbox-netns"].rsplit("-h", 1)[1]
        with open(os.path.join(server.state, "sandbox", "hosts", "h" + number, "var", "log", "xha.log")) as f:
            assert "Self-Fence" not in f.read()
    x.host.reboot(slave)
    wait(lambda: live(x, slave), 120)
    assert failure(x.host.shutdown, master)[0] == "OPERATION_NOT_ALLOWED"


def test_restarting_the_shim_with_ha_on_brings_every_host_back_live(ha_pool):
    """``on_server_restart``: ha_start_daemon retried on every host, the master proposes, monitors start."""
    server, x = ha_pool
    wait(lambda: all(live(x, h) for h in x.host.get_all()), 30)
    server.stop()  # every host "powers off": their daemons stop with their sandboxes
    server.start()
    x = server.session().xenapi
    assert x.pool.get_ha_enabled(x.pool.get_all()[0])
    wait(lambda: all(live(x, h) for h in x.host.get_all()), 180)
    master = x.pool.get_master(x.pool.get_all()[0])
    env = hostsandbox.xapi_env(os.path.join(hostsandbox.STACK_ROOT_INSIDE, "xhad"))
    seen = liveset.parse(box(server, x, master).run(["ha_query_liveset"], timeout=30, env=env).stdout)
    assert seen.host(x.host.get_uuid(master)).master
