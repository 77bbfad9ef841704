"""Async calls through the PyPI XenAPI client against a ``serve`` process, and xe's task commands.

As xapi (``server_helpers.ml`` do_dispatch): ``Async.<method>`` answers a
task ref at once; ``task.get_status``/``get_progress``/``get_result``/
``get_error_info`` follow it.  The stacks and drivers are helpers.shim's
fixtures; ``ha_start_daemon`` is held until the test has seen the task
pending (and xe has listed it), then let go.
"""

import os
import subprocess
import sys
import time

import pytest

from helpers.shim import SR_SIZE, held_script, wait_for
from helpers.xe import SandboxedPool

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="host sandboxes (enable_ha needs them) need root"),
              pytest.mark.pool(pool_class=SandboxedPool)]


def follow(x, task, timeout=60):
    """Every (status, progress) seen until the task ends."""
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, progress = x.task.get_status(task), float(x.task.get_progress(task))
        seen.append((status, progress))
        if status != "pending":
            return seen
        time.sleep(0.05)
    raise AssertionError("task still pending: %r" % seen[-3:])


def test_async_enable_ha_is_a_task_that_ends_in_success(pool):
    x = pool.x
    sr = pool.create_sr("lvm", "hb")
    with held_script(pool, "ha_start_daemon"):  # until then the task is surely pending, its steps on the way
        task = x.Async.pool.enable_ha([sr], {})
        wait_for(lambda: float(x.task.get_progress(task)) > 0)
        held = [(x.task.get_status(task), float(x.task.get_progress(task)))]
        xe = subprocess.run([sys.executable, "-m", "sm_clusterstack.cli", "xe", "-s", pool.server.url,
                             "--password-file", pool.server.password_file, "task-list", "status=pending",
                             "params=name-label", "--minimal"], stdout=subprocess.PIPE, timeout=60, env=dict(
                                 os.environ, HOME=os.devnull))
    seen = held + follow(x, task)
    assert seen[0][0] == "pending" and seen[-1] == ("success", 1.0)
    assert [p for _, p in seen] == sorted(p for _, p in seen)  # progress never goes back
    assert any(0 < p < 1 for _, p in seen)  # enable_ha's steps (ha.PROGRESS) move it on the way
    assert xe.stdout == b"Async.pool.enable_ha\n"  # xe task-list saw it pending
    assert x.task.get_result(task) == "<value></value>"  # enable_ha has no result
    assert x.pool.get_ha_enabled(x.pool.get_all()[0]) is True


def test_async_sr_create_result_is_the_sr_ref_and_failures_are_error_info(pool):
    x = pool.x
    task = x.Async.SR.create(pool.master(), {"device": "/dev/x"}, str(SR_SIZE), "t", "", "lvm", "user", True, {})
    follow(x, task)
    result = x.task.get_result(task)
    assert result.startswith("<value>OpaqueRef:") and x.SR.get_record(result[7:-8])["name_label"] == "t"
    pool.create_sr("ocfs2", "o")  # attached, needs corosync: a melio SR cannot join it
    melio = x.Async.SR.create(pool.master(), {}, "0", "m", "", "melio", "user", True, {})
    assert follow(x, melio)[-1][0] == "failure"
    assert x.task.get_error_info(melio) == ["INCOMPATIBLE_CLUSTER_STACK_ACTIVE", "melio"]
    x.task.destroy(melio)
    assert melio not in x.task.get_all()
