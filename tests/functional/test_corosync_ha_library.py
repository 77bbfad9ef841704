"""corosync-ha learns membership from corosync's libraries, as events, and rides out its connection's loss.

Three sandboxed hosts (T = 10 s) whose scripts, and so their monitor and
guard, run with a PATH that begins with recording stand-ins for
``corosync-quorumtool`` and ``corosync-cmapctl`` (each notes its argv,
then runs the real tool): the stack may run neither.  As sbd
(``sbd-cluster.c``) and pacemaker do, the monitor's watcher thread
(``corostack/corowatch.py``) tracks quorum changes on the library's fd;
a dead connection is corosync's silence on the budget of
``corostack/timing.py`` (the host fences at ``corosync_stale``, 0.9 T,
not at once), and a corosync back within it is connected to again.
"""

import json
import os
import shutil
import signal
import sys
import time

import pytest

from helpers import corosync_pool
from helpers.corosync_pool import CorosyncPool, ok, wait_for
from helpers.lateness import Lateness
from sm_clusterstack.corostack import timing
from sm_clusterstack.stacks import client

pytestmark = [pytest.mark.skipif(corosync_pool.skip_reason() is not None, reason=str(corosync_pool.skip_reason())),
              pytest.mark.slow(25)]
TOOLS = ("corosync-quorumtool", "corosync-cmapctl")
STAND_IN = """#!/bin/sh
echo "$(basename "$0") $*" >> %s
exec %s "$@"
"""
RUNTIME = "/run/sm-clusterstack/corosync-ha"


@pytest.fixture
def pool(tmp_path):
    """Three started hosts whose stack finds the recording stand-ins first on its PATH."""
    pool = CorosyncPool(tmp_path, 3, prefix="s19l")
    bindir, pool.tool_record = tmp_path / "bin", str(tmp_path / "tools-run")
    bindir.mkdir()
    for tool in TOOLS:
        path = bindir / tool
        path.write_text(STAND_IN % (pool.tool_record, shutil.which(tool, path=corosync_pool.XAPI_PATH)))
        path.chmod(0o755)
    for host in pool.hosts:
        host.stack = client.StackClient(
            os.path.join(corosync_pool.STACK_ROOT, "corosync-ha"), run=host.box.run, host=host.stack.host,
            path_inside=corosync_pool.STACK_INSIDE, env={"PATH": "%s:%s" % (bindir, corosync_pool.XAPI_PATH)},
            owner_uid=corosync_pool.STACK_OWNER)
    try:
        assert all(r.ok for r in pool.start_all())
        yield pool
    finally:
        pool.teardown()


def tools_run(pool):
    try:
        with open(pool.tool_record) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def partition(host):
    """The partition in the host's published view (host ids), [] while there is none."""
    try:
        with open(host.box.path(RUNTIME + "/view.json")) as f:
            return json.load(f)["partition"]
    except (OSError, ValueError, KeyError):
        return []


def test_a_cut_host_reaches_the_monitors_as_a_membership_event_with_no_corosync_tool_run(pool):
    times = timing.Timing(pool.t)
    h1, h2, h3 = pool.hosts
    everyone = sorted(h.host_id for h in pool.hosts)
    assert partition(h1) == everyone and "connected to corosync (connection 1): nodes" in h1.log()
    with Lateness() as late:
        cut_at = time.monotonic()
        h3.box.set_link(False)
        wait_for(lambda: partition(h1) == sorted([h1.host_id, h2.host_id]), 3 * pool.t, interval=0.05)
        seen_after = time.monotonic() - cut_at
    # corosync's detection (token + consensus), then the event and the monitor's next poll
    assert seen_after <= times.detect + times.poll + late.allowance(wakes=2, spawns=0), (seen_after, late)
    wait_for(lambda: h3.fences(), 2 * pool.t)
    assert tools_run(pool) == []  # nothing of the stack ran corosync's tools: the libraries told it all


def test_corosync_killed_is_silence_on_the_budget_the_monitor_fences_at_corosync_stale_not_before(pool):
    times = timing.Timing(pool.t)
    victim = pool.hosts[2]
    with Lateness() as late:
        killed_at = time.monotonic()
        victim.signal("corosync", signal.SIGKILL)
        fenced_at = wait_for(lambda: victim.fences() and victim.fences()[0][0], 2 * pool.t)
    log = victim.log()
    assert "the connection to corosync is lost" in log and "Traceback" not in log
    assert "corosync has not answered" in victim.fences()[0][1]
    # the monitor takes a lost connection as silence: it fences once it has been silent corosync_stale
    assert fenced_at - killed_at >= times.corosync_stale - times.poll, (fenced_at - killed_at)
    assert fenced_at - killed_at <= times.corosync_stale + times.step + late.allowance(wakes=2, spawns=1), late
    assert [h.fences() for h in pool.hosts[:2]] == [[], []]
    assert tools_run(pool) == []


def test_corosync_restarted_under_the_monitor_is_connected_to_again_and_membership_is_right(pool):
    times = timing.Timing(pool.t)
    victim = pool.hosts[2]
    everyone = sorted(h.host_id for h in pool.hosts)
    ok(victim.run("ha_disarm_fencing"))  # a restart may show this host alone for a moment: that fences nobody
    victim.signal("corosync", signal.SIGKILL)
    wait_for(lambda: "the connection to corosync is lost" in victim.log(), times.step + 5)
    restart = victim.box.run(
        [sys.executable, "-c", "from sm_clusterstack.corostack import daemon; "
         "daemon.start_corosync(daemon.Paths(%r))" % RUNTIME], 60, env={"PATH": corosync_pool.XAPI_PATH})
    assert restart.ok, restart.describe()
    wait_for(lambda: "connected to corosync (connection 2)" in victim.log(), 2 * times.reconnect + 10)
    wait_for(lambda: partition(victim) == everyone, 3 * pool.t)
    assert all(partition(h) == everyone for h in pool.hosts[:2]) or wait_for(
        lambda: all(partition(h) == everyone for h in pool.hosts[:2]), 3 * pool.t)
    assert victim.pid("monitor") is not None and os.path.exists("/proc/%d" % victim.pid("monitor"))
    assert [h.fences() for h in pool.hosts] == [[], [], []] and "Traceback" not in victim.log()
    assert tools_run(pool) == []
