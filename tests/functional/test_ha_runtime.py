"""The shim takes membership from the cluster stack (``ocaml/xapi/xapi_ha.ml`` ``Monitor``).

A 3-host sandboxed pool on each real stack: the real xhad (built by
``make xhad``) and the shipped corosync-ha (real corosync daemons), each
host's monitor querying its liveset every second.  Faults are real: a
host's link on the pool's switch goes down.  xhad's user-mode watchdog
(``-DWD_IGNORE``) makes a self-fence an ``abort()`` of xhad, logged as
"Self-Fence" in the host's /var/log/xha.log; corosync-ha's fence action is
a recorder (ha_pools).  A sandboxed host that fenced is "rebooted" by the
shim once the master has seen it dead (ha_monitor ``_after_stop``).

Each scenario runs twice on each stack: from the working tree, and as a
dom0 runs it under Python 3.6 (the shim and corosync-ha installed by
``make py36``, helpers.py36), where a Python 3.6 is installed.
"""

import os
import time

import pytest

from helpers import py36
from helpers.ha_pools import all_live, cut_slave, failure_timeout, skip_reason, wait
from helpers.shim import failure
from sm_clusterstack.stacks import liveset

INTERVAL = 1.0  # seconds between two liveset queries of a host's monitor
SECONDS = {"xhad": 95, "corosync-ha": 25}  # a test's time on an idle machine, pool start and stop included


def _param(stack, python36):
    reason = skip_reason(stack) or (python36 and py36.absent()) or None
    return pytest.param((stack, python36), id=stack + ("-py36" if python36 else ""),
                        marks=[pytest.mark.skipif(reason is not None, reason=str(reason)),
                               pytest.mark.slow(SECONDS[stack])])


STACKS = [_param(stack, python36) for python36 in (False, True) for stack in ("xhad", "corosync-ha")]


@pytest.fixture(params=STACKS)
def ha_pool(request, tmp_path):
    stack, python36 = request.param
    if python36:
        request.getfixturevalue("py36_tree")
    with all_live(str(tmp_path), stack, INTERVAL, python36=python36) as pool:
        if python36:  # the shim, and corosync-ha's daemons on every host, really are Python 3.6
            interpreters = {os.path.realpath(py36.interpreter())}
            assert py36.python_processes([pool.server.proc.pid]) == interpreters
            if stack == "corosync-ha":
                daemons = [pid for host in pool.x.host.get_all() for pid in pool.box(host).pids()]
                assert py36.python_processes(daemons) == interpreters
        yield pool


def test_a_cut_slave_goes_not_live_on_the_master_and_comes_back_after_it_heals(ha_pool):
    """``process_liveset_on_master``: the stack's liveness becomes host_metrics.live, both ways."""
    pool = ha_pool
    slave, took, bound = cut_slave(pool, INTERVAL)
    assert took <= bound
    assert pool.live(pool.master()) and pool.fenced(slave)
    pool.box(slave).set_link(True)
    wait(lambda: pool.live(slave), 240)  # it fenced; its "reboot" rejoins once the network is back


def test_a_cut_master_is_replaced_by_exactly_one_survivor_and_fences(ha_pool):
    """``on_master_failure``: a slave proposes, the one answered TRUE becomes pool.master; never two."""
    pool = ha_pool
    master = pool.master()
    survivors = sorted(h for h in pool.x.host.get_all() if h != master)
    pool.box(master).set_link(False)
    two_masters, began = 0, time.monotonic()
    while pool.master() == master and time.monotonic() - began < failure_timeout(pool.stack) + 60:
        flagged = set()
        for host in survivors:
            status, out = pool.query(host)
            if status == 0:
                flagged |= {h.host_id.lower() for h in liveset.parse(out).hosts if h.master and h.liveness}
        two_masters += len(flagged) > 1
        time.sleep(0.1)
    assert pool.master() in survivors and two_masters == 0
    wait(lambda: pool.fenced(master), 60, step=0.5)
    assert any(m["name"] == "HA_POOL_MASTER_CHANGED" for m in pool.x.message.get_all_records().values())
    status, out = pool.query(pool.master())
    assert status == 0 and pool.x.host.get_uuid(master) not in liveset.parse(out).live_hosts()


def test_a_clean_shutdown_fences_no_one_and_reboot_brings_the_host_back(ha_pool):
    """``before_clean_shutdown_or_reboot``: disarm, stop, ha_set_excluded; the boot rejoins (the stack clears it)."""
    pool = ha_pool
    master = pool.master()
    slave = sorted(h for h in pool.x.host.get_all() if h != master)[0]
    pool.x.host.disable(slave)  # xapi_host.ml: a host is disabled before its shutdown
    pool.x.host.shutdown(slave)
    assert not pool.live(slave)
    time.sleep(failure_timeout(pool.stack) + 2 * INTERVAL)  # long enough for anyone to fence
    assert all(pool.live(h) for h in pool.x.host.get_all() if h != slave)
    assert not any(pool.fenced(h) for h in pool.x.host.get_all())
    pool.x.host.reboot(slave)
    wait(lambda: pool.live(slave), 180)
    assert failure(pool.x.host.shutdown, master)[0] == "OPERATION_NOT_ALLOWED"


def test_restarting_the_shim_with_ha_on_brings_every_host_back_live(ha_pool):
    """``on_server_restart``: ha_start_daemon retried on every host, the master proposes, monitors start."""
    pool = ha_pool
    pool.server.stop()  # every host "powers off": their daemons stop with their sandboxes
    pool.server.start()
    pool.x = pool.server.session().xenapi
    for host in pool.x.host.get_all():
        pool.write_settings(host)
    assert pool.x.pool.get_ha_enabled(pool.x.pool.get_all()[0])
    wait(lambda: all(pool.live(h) for h in pool.x.host.get_all()), 240)
    status, out = pool.query(pool.master())
    assert status == 0 and liveset.parse(out).host(pool.x.host.get_uuid(pool.master())).master


def test_failures_to_tolerate_follow_the_stack(ha_pool):
    """``pool.ha_compute_max_host_failures_to_tolerate``; above it, HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN."""
    pool = ha_pool
    ref = pool.x.pool.get_all()[0]
    most = int(pool.x.pool.ha_compute_max_host_failures_to_tolerate())
    assert most == (2 if pool.stack == "xhad" else 1)
    pool.x.pool.set_ha_host_failures_to_tolerate(ref, str(most))
    assert pool.x.pool.get_ha_host_failures_to_tolerate(ref) == str(most)
    assert failure(pool.x.pool.set_ha_host_failures_to_tolerate, ref, str(most + 1)) == [
        "HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN"]
